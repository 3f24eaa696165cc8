"""The run's phases: each measures its paths against their floors and returns the metrics."""
import itertools
import sys
from pathlib import Path

from crm_common.stack import SERVICES
from crm_common.testing import start_stack

from . import (backlog, bulk, floors, gateway_load, http_load, imports, registry, relay,
               rpc, scale)
from .client_loader import ScaleDatabase
from .databases import Databases
from .payloads import outbox_payload
from .procfs import tree_peak_memory_mib
from .report import (GATEWAY_SECTION, IMPORT_CPU_PREFIX, IMPORT_SECTION, LOWER,
                     REGISTRY_SECTION, Metric)
from .sampling import Sample, alternate, measure, metric
from .settings import (CARD_RATE, FIXED_RATE, HTTP_CONNECTIONS, SCALE_FLOOR_REPEATS,
                       SCALE_RATE, WINDOW, Sizes, keep_scale_database)

DIALECTS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
BACKLOG_NOTES = {
    ("sqlite", 1): "from the first timeline row to the last (start-up not counted)",
    ("postgresql", 2): "two processes competing for the queue, the database shared; no "
                       "target: it shows what a replica adds on these two cores"}
CONFIRMS = f"raw py-amqp, confirms with {WINDOW} in flight"
PUBLISH_CONSUME = "raw py-amqp publish + consume with acks"


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class Phases:
    def __init__(self, amqp_uri: str, tmp: Path, databases: Databases, sizes: Sizes):
        self.amqp_uri, self.tmp, self.databases, self.sizes = amqp_uri, tmp, databases, sizes
        self.body = outbox_payload()  # a real outbox row's payload: the floors' body

    def outbox(self) -> list[Metric]:
        n = self.sizes.events
        say(f"outbox relay, {n} events ({len(self.body)} bytes each)")

        def floor():
            return {"confirms": floors.confirms_floor(self.amqp_uri, self.body, n),
                    "publish_consume": floors.publish_consume_floor(self.amqp_uri, self.body, n)}

        floor_runs, runs = alternate(floor, {
            d: (lambda d=d: relay.commit_and_relay(
                self.amqp_uri, self.databases.url(d, "relay"), n)) for d in DIALECTS},
            self.sizes.rounds)
        metrics = []
        for d, label in DIALECTS.items():
            metrics.append(metric(
                f"outbox relay into a durable bound queue ({label})", "events/s", runs[d],
                lambda r: r.relay_rate, floor_runs, lambda f: f["confirms"],
                floor_name=CONFIRMS, target=0.5,
                note=f"`OutboxRelay.drain()` of events committed beforehand, its connection "
                     f"open; it has up to {relay.BATCH} in flight" if d == "sqlite" else None))
        for d, label in DIALECTS.items():
            metrics.append(metric(
                f"outbox commit (one transaction per event) + relay ({label})", "events/s",
                runs[d], lambda r: r.commit_and_relay_rate, floor_runs,
                lambda f: f["publish_consume"], floor_name=PUBLISH_CONSUME,
                note="N transactions of one event each, then `drain()`; the floor's "
                     "consumer is another process" if d == "sqlite" else None))
        return metrics

    def backlog(self) -> list[Metric]:
        n = self.sizes.backlog
        say(f"activities working off a backlog of {n} client.created")
        bodies = backlog.backlog_bodies(n)
        prefetch = backlog.handler_prefetch()
        # (dialect, replicas): one process on each dialect against the target, and how
        # competing replicas scale on PostgreSQL (a process is one core)
        setups = {("sqlite", 1): "SQLite", ("postgresql", 1): "PostgreSQL",
                  ("postgresql", 2): "PostgreSQL, 2 replicas"}
        floor_runs, runs = alternate(
            lambda: floors.backlog_floor(self.amqp_uri, bodies, n, prefetch),
            {setup: (lambda d=setup[0], r=setup[1]: backlog.work_off_backlog(
                self.amqp_uri, self.databases.url(d, "activities"), bodies,
                self.tmp / f"backlog-{d}-{r}", replicas=r)) for setup in setups},
            self.sizes.rounds)
        metrics = [metric(f"activities working off a backlog ({label})", "events/s",
                          runs[setup], lambda r: r.rate, floor_runs, lambda f: f,
                          floor_name=f"raw py-amqp consume + ack, prefetch {prefetch} as "
                                     "the service's",
                          target=0.4 if setup[1] == 1 else None,
                          note=BACKLOG_NOTES.get(setup))
                   for setup, label in setups.items()]
        metrics += [metric(f"peak memory (VmHWM) of activities after the backlog ({label})",
                           "MiB", runs[setup], lambda r: r.peak_memory_mib, better=LOWER)
                    for setup, label in setups.items() if setup[1] == 1]
        return metrics

    def whole_stack(self) -> list[Metric]:
        """Bulk creation on every dialect asked for; RPC and memory on the first one."""
        metrics, more = [], []  # bulk rows together, then RPC and memory
        for i, dialect in enumerate(self.sizes.bulk_dialects):
            say(f"whole stack on {DIALECTS[dialect]}: starting")
            env = self.databases.env(dialect, SERVICES)
            stack = start_stack(self.tmp / f"stack-{dialect}", self.amqp_uri, env,
                                fake_ares=True)
            try:
                metrics += self._bulk(stack, dialect, env["ACTIVITIES_DATABASE_URL"])
                if i == 0:
                    more += self._rpc(stack)
                    more += [Metric(f"peak memory (VmHWM) of {key} after the bulk and "
                                    f"RPC loads ({DIALECTS[dialect]})",
                                    tree_peak_memory_mib(proc.pid), "MiB", better=LOWER)
                             for key, proc in stack.procs.items() if key != "fake-ares"]
            finally:
                stack.stop()
        return metrics + more

    def _bulk(self, stack, dialect: str, activities_url: str) -> list[Metric]:
        n = self.sizes.bulk
        say(f"{n} clients through the gateway ({DIALECTS[dialect]})")
        floor_runs, runs = alternate(
            lambda: floors.publish_consume_floor(self.amqp_uri, self.body, n),
            {"bulk": lambda: bulk.create_clients(
                stack.url, activities_url, n,
                {key: proc.pid for key, proc in stack.procs.items() if key != "fake-ares"})},
            self.sizes.rounds)
        how = runs["bulk"][0].result.how
        fastest = max(runs["bulk"], key=lambda s: s.result.rate).result
        cpu = [Metric(f"CPU per client in the bulk path: {name} ({DIALECTS[dialect]})",
                      ms, "ms", better=LOWER)
               for name, ms in sorted(fastest.cpu_ms_per_client.items(),
                                      key=lambda item: -item[1])]
        cpu.append(Metric(f"machine CPU busy during the bulk path ({DIALECTS[dialect]})",
                          100 * fastest.machine_busy, "% of all cores",
                          note="what limits the bulk path: with the cores this busy, "
                               "the rate is total CPU per client divided into the cores"))
        return cpu + [metric(f"{n:,} clients, first POST to last timeline row "
                       f"({DIALECTS[dialect]}; {how})", "clients/s", runs["bulk"],
                       lambda r: r.rate, floor_runs, lambda f: f,
                       floor_name=PUBLISH_CONSUME, floor_unit="events/s",
                       target=2500, target_on="value",
                       note="until the last client's \"Client created\" row is in the "
                            "activities database; the floor is the commit + relay rows' "
                            "program, run next to it with as many messages"
                       if dialect == self.sizes.bulk_dialects[0] else None)]

    def _rpc(self, stack) -> list[Metric]:
        n = self.sizes.rpc_calls
        say(f"{n} serial RPC calls")
        with rpc.bare_service(self.amqp_uri) as bare_pid:
            floor_runs, runs = alternate(
                lambda: rpc.floor(self.amqp_uri, n),
                {"RpcPool": lambda: rpc.project(self.amqp_uri, stack.procs["clients"].pid, n),
                 "bare": lambda: rpc.bare(self.amqp_uri, bare_pid, n)},
                self.sizes.rounds + 1)  # cheap, and the noisiest figure: one more round
        bare_runs, runs = runs["bare"], runs["RpcPool"]
        raw = "raw py-amqp request/reply"
        return [
            metric("RPC round trip p50, gateway pool → clients.health", "ms", runs,
                   lambda r: r.p50_ms, floor_runs, lambda f: f.p50_ms, better=LOWER,
                   floor_name=raw, target=2.0),
            metric("RPC round trip p95", "ms", runs, lambda r: r.p95_ms, floor_runs,
                   lambda f: f.p95_ms, better=LOWER, floor_name=raw),
            Metric("RPC server CPU per call (clients service process)",
                   rpc.pooled_cpu_ms_per_call([s.result for s in runs]), "ms",
                   floor=rpc.pooled_cpu_ms_per_call([s.result for s in floor_runs]),
                   floor_name="raw py-amqp server process", better=LOWER, target=3.0,
                   samples=[s.result.server_cpu_ms_per_call for s in runs],
                   floor_samples=[s.result.server_cpu_ms_per_call for s in floor_runs],
                   load_average=runs[-1].load_average,
                   note="utime + stime from /proc over all the runs' calls together"),
            Metric("RPC server CPU per call, an empty method on the same entrypoint "
                   "(nameko, eventlet and kombu alone)",
                   rpc.pooled_cpu_ms_per_call([s.result for s in bare_runs]), "ms",
                   floor=rpc.pooled_cpu_ms_per_call([s.result for s in floor_runs]),
                   floor_name="raw py-amqp server process", better=LOWER,
                   samples=[s.result.server_cpu_ms_per_call for s in bare_runs],
                   load_average=bare_runs[-1].load_average,
                   note="`bench/bare_service.py`: the framework's own cost per call, which "
                        "no code of ours can go below while nameko runs the services"),
        ]

    def gateway(self) -> list[Metric]:
        """The gateway under HTTP load on PostgreSQL, per gunicorn worker class, next to
        gunicorn serving a static answer with the same settings (bench/gateway_load.py):
        the worker classes side by side in front of one stack, measured in turn."""
        if not http_load.wrk_available():
            raise RuntimeError("wrk is not installed (scripts/ensure-wrk.sh installs it)")
        classes = self.sizes.gateway_workers
        say(f"gateway under HTTP load ({', '.join(classes)}; PostgreSQL)")
        env = self.databases.env("postgresql", gateway_load.SERVICES)
        seconds, card = self.sizes.http_seconds, gateway_load.CARD
        with gateway_load.gateways_under_load(self.tmp, self.amqp_uri, env,
                                              classes) as gateways:
            def load(url, token, rates):
                return gateway_load.measure(url, token, seconds, HTTP_CONNECTIONS, rates)

            def floors():
                return {c: load(gateways.floor_urls[c], None, (FIXED_RATE, CARD_RATE))
                        for c in classes}

            floor_runs, runs = alternate(floors, {
                (c, label): (lambda c=c, label=label: load(
                    gateways.path(c, label), gateway_load.TOKEN,
                    (FIXED_RATE, CARD_RATE) if label == card else (FIXED_RATE,)))
                for c in classes for label in gateway_load.PATHS}, self.sizes.rounds)
            memory = [Metric(f"peak memory (VmHWM) of a gateway worker after the HTTP "
                             f"loads ({c})", tree_peak_memory_mib(gateways.pids[c]), "MiB",
                             better=LOWER) for c in classes]
        metrics = []
        for (worker_class, label), samples in runs.items():
            class_floors = [Sample(s.result[worker_class], s.load_average)
                            for s in floor_runs]
            metrics += _gateway_metrics(label, worker_class, samples, class_floors)
        return metrics + memory

    def scale(self) -> list[Metric]:
        """The client register at scale (bench/scale.py): generated clients loaded into
        PostgreSQL (or a kept database reused), reads through the gateway next to the
        same SQL run directly."""
        n = self.sizes.scale_clients
        database = ScaleDatabase(n)
        say(f"client register at scale: {n:,} clients into {database.name}")
        try:
            loaded = database.prepare()
            say(f"  {loaded}" if loaded else "  a kept database with these clients: reused")
            paths = scale.latency_paths(n)
            captured = scale.capture(database.url, paths)
            stack = start_stack(self.tmp / "scale", self.amqp_uri,
                                {"CLIENTS_DATABASE_URL": database.url}, services=("clients",),
                                fake_ares=False)
            try:
                floor_runs, runs = alternate(
                    lambda: scale.floor(database.url, captured, SCALE_FLOOR_REPEATS),
                    {"gateway": lambda: scale.project(stack.url, paths, SCALE_RATE,
                                                      self.sizes.scale_seconds,
                                                      captured.exported,
                                                      stack.procs["gateway"].pid)},
                    self.sizes.rounds)
                memory = {f"{key} after the exports": tree_peak_memory_mib(proc.pid)
                          for key, proc in stack.procs.items()}
            finally:
                stack.stop()
        finally:
            if not keep_scale_database():
                database.drop()
        return scale.metrics(n, floor_runs, runs["gateway"], captured, memory, loaded)


    def registry(self) -> list[Metric]:
        """The bulk registry refresh of issue 13 (bench/registry.py), once: minutes long,
        and bounded by the throttle, not by the machine."""
        n = self.sizes.registry_clients
        say(f"bulk registry refresh of {n:,} clients")
        sample = measure("refresh all", lambda: registry.refresh_all(
            self.tmp / "registry", self.amqp_uri,
            self.databases.env("sqlite", registry.SERVICES), n))
        result, load = sample.result, sample.load_average
        job = result["job"]
        note = (f"job: {job['done']:,} done, {job['changed']:,} changed, "
                f"{job['unchanged']:,} unchanged, {job['failed']:,} failed")
        return [
            Metric(f"refresh of {n:,} clients: request to job completed", result["seconds"],
                   "s", floor=registry.throttle_floor(result["requests"]),
                   floor_name="the throttle's least time for the requests made",
                   better=LOWER, section=REGISTRY_SECTION, load_average=load, note=note),
            Metric(f"ARES requests of the refresh of {n:,} clients", result["requests"],
                   "requests", better=LOWER, target=-(-n // 100), target_on="value",
                   section=REGISTRY_SECTION, load_average=load),
            Metric(f"the same {n:,} lookups straight to the fake ARES (HTTP floor)",
                   result["floor_http"], "s", better=LOWER, section=REGISTRY_SECTION,
                   load_average=load),
            Metric(f"ARES requests to enrich the {n:,} new clients (created 1,000 a request)",
                   result["enrichment_requests"], "requests", better=LOWER,
                   section=REGISTRY_SECTION, load_average=load)]

    def imports(self) -> list[Metric]:
        """The client import of issue 12 (bench/imports.py): an XLSX and a CSV of the same
        generated clients, each imported through the gateway into a fresh stack, next to
        the parse-only time of the same file; per setup (settings.IMPORT_SETUPS)."""
        n = self.sizes.import_rows
        files = imports.prepared_files(n)
        say(f"client import: {files.describe()}; setups {', '.join(self.sizes.import_setups)}")
        formats = {"XLSX": files.xlsx, "CSV": files.csv}
        # parse + build_row of the XLSX once: extra information (half a minute and more)
        built = {"XLSX": measure("parse + build_row (XLSX)",
                                 lambda: imports.parse(files.xlsx, build=True))}
        runs_made = itertools.count(1)
        metrics, memory, cpu = [], [], []
        for setup in self.sizes.import_setups:
            dialect, core = setup.removesuffix("-core"), setup.endswith("-core")
            services = ("clients", "importer") if core else tuple(SERVICES)
            label = f"{DIALECTS[dialect]}, " + \
                ("importer and clients only" if core else "every service, fake ARES")
            say(f"  importing on {label}")

            def project(path, dialect=dialect, services=services):
                return imports.import_file(
                    self.tmp / f"import-{next(runs_made)}", self.amqp_uri,
                    self.databases.env(dialect, services), services, path, n,
                    files.last_name)

            floor_runs, runs = alternate(
                lambda: {fmt: imports.parse(path) for fmt, path in formats.items()},
                {fmt: (lambda path=path: project(path)) for fmt, path in formats.items()},
                self.sizes.import_rounds)
            for fmt in formats:
                metrics += _import_metrics(n, fmt, label, runs[fmt], floor_runs)
                memory += [Metric(f"peak memory (VmHWM) of {process} during the import "
                                  f"({fmt}; {label})",
                                  max(s.result.peak_memory_mib[process] for s in runs[fmt]),
                                  "MiB", better=LOWER, section=IMPORT_SECTION,
                                  target=300 if process == "importer" else None,
                                  target_on="value", load_average=runs[fmt][-1].load_average)
                           for process in ("importer", "clients", "gateway")
                           if process in runs[fmt][0].result.peak_memory_mib]
                fastest = min(runs[fmt], key=lambda s: s.result.seconds)
                cpu += [Metric(f"{IMPORT_CPU_PREFIX}{process} ({fmt}; {label})", seconds,
                               "s", better=LOWER, section=IMPORT_SECTION,
                               load_average=fastest.load_average,
                               note=f"{fastest.result.seconds:.0f} s, machine "
                                    f"{fastest.result.machine_busy:.0%} busy")
                        for process, seconds in sorted(fastest.result.cpu_seconds.items(),
                                                       key=lambda item: -item[1])
                        if seconds >= 0.5]
        for fmt, sample in built.items():
            floor = imports.parse(formats[fmt])  # next to it, for the ratio
            metrics.append(Metric(
                f"parse + `values.build_row` of every row ({fmt})", sample.result.seconds, "s",
                floor=floor.seconds, floor_name="parse only", better=LOWER,
                section=IMPORT_SECTION, load_average=sample.load_average,
                note="what the importer does with each row before it sends the batch; "
                     "extra information, not the floor"))
            memory.append(Metric(f"peak memory (VmHWM) of the parse-only floor ({fmt})",
                                 floor.peak_memory_mib, "MiB", better=LOWER,
                                 section=IMPORT_SECTION))
        return metrics + memory + cpu


def _import_metrics(n: int, fmt: str, label: str, runs, floor_runs) -> list[Metric]:
    common = dict(floor_name="parse only: `reading.open_table` + every row, a fresh process",
                  section=IMPORT_SECTION)
    fastest = min(runs, key=lambda s: s.result.seconds).result
    note = (f"upload answered after {fastest.upload_seconds:.1f} s, the job said completed "
            f"after {fastest.completed_seconds:.1f} s, the last row's client found by name "
            f"after {fastest.seconds:.1f} s; counts {fastest.counts}")
    return [
        metric(f"{n:,} rows, upload to every client searchable ({fmt}; {label})", "s", runs,
               lambda r: r.seconds, floor_runs, lambda f: f[fmt].seconds, better=LOWER,
               target=30, target_on="value", note=note, **common),
        metric(f"{n:,} rows, rows/s ({fmt}; {label})", "rows/s", runs, lambda r: r.rate,
               floor_runs, lambda f: f[fmt].rows / f[fmt].seconds, **common),
    ]


def _gateway_metrics(label: str, worker_class: str, samples, floors) -> list[Metric]:
    card = label == gateway_load.CARD
    name = f"{label} ({worker_class})"
    common = dict(floor_name=f"gunicorn, static JSON, {worker_class}",
                  section=GATEWAY_SECTION)

    def latency(rate, q, **fields):
        return metric(f"{name}: {q} at {rate} req/s", "ms", samples,
                      lambda r: getattr(r.fixed[rate], f"{q}_ms"), floors,
                      lambda f: getattr(f.fixed[rate], f"{q}_ms"), better=LOWER,
                      **common, **fields)

    metrics = [
        metric(f"{name}: requests/s, {HTTP_CONNECTIONS} connections", "req/s", samples,
               lambda r: r.throughput.rate, floors, lambda f: f.throughput.rate,
               target=1000 if label == gateway_load.ONE_CLIENT else None,
               target_on="value", **common),
        latency(FIXED_RATE, "p50"),
        latency(FIXED_RATE, "p99", target=50, target_on="value",
                note=_incomplete(samples, FIXED_RATE)),
    ]
    if card:  # where the card is served: its p50 against the 30 ms
        metrics += [latency(CARD_RATE, "p50", target=30, target_on="value",
                            note=_incomplete(samples, CARD_RATE)),
                    latency(CARD_RATE, "p99")]
    return metrics


def _incomplete(samples, rate) -> str | None:
    """A note when some cards came back with a section unavailable (late)."""
    counts = [s.result.fixed[rate].incomplete for s in samples]
    if not any(counts):
        return None
    return (f"cards with a section unavailable (its service did not answer within "
            f"CARD_TIMEOUT) at {rate} req/s, per run: {', '.join(map(str, counts))}")
