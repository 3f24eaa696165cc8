"""Results: one `Metric` per measured path, written to var/bench/results.json and as the table
of docs/benchmarks.md.

`ratio` is always project ÷ floor. For a throughput (better "higher") it is the share of the
floor the project reaches; for a latency or CPU time (better "lower") how many times the floor
it takes. A target is a bound on that ratio (`target_on` "ratio") or, where the issue sets an
absolute figure, on the value itself (`target_on` "value").
"""
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HIGHER, LOWER = "higher", "lower"


@dataclass
class Metric:
    name: str
    value: float
    unit: str
    floor: float | None = None
    floor_name: str | None = None  # what the floor program does
    floor_unit: str | None = None  # when it is not the project's unit
    better: str = HIGHER
    target: float | None = None
    target_on: str = "ratio"
    samples: list[float] = field(default_factory=list)  # every project measurement
    floor_samples: list[float] = field(default_factory=list)
    load_average: list[float] = field(default_factory=lambda: list(os.getloadavg()))
    note: str | None = None
    section: str | None = None  # rendered in its own table (GATEWAY_SECTION), not the main one

    @property
    def ratio(self) -> float | None:
        if self.floor in (None, 0):
            return None
        return self.value / self.floor

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        actual = self.ratio if self.target_on == "ratio" else self.value
        if actual is None:
            return None
        return actual >= self.target if self.better == HIGHER else actual <= self.target

    def as_dict(self) -> dict:
        entry = asdict(self)
        entry["ratio"] = None if self.ratio is None else round(self.ratio, 4)
        entry["met"] = self.met
        for key in ("value", "floor"):
            if entry[key] is not None:
                entry[key] = round(entry[key], 4)
        entry["samples"] = [round(x, 4) for x in self.samples]
        entry["floor_samples"] = [round(x, 4) for x in self.floor_samples]
        entry["load_average"] = [round(x, 2) for x in self.load_average]
        return entry


def best(samples: list[float], better: str) -> float:
    """The noise of a shared machine only ever slows a run down: the best one is closest
    to what the code costs."""
    return max(samples) if better == HIGHER else min(samples)


def part(section: str | None) -> str:
    """What a run can measure on its own: the scale section, the import section, or the
    rest (the main table and the gateway's)."""
    return section if section in STANDALONE else "main"


def write_json(path: Path, metrics: list[Metric], run: dict) -> list[dict]:
    """A list, one entry per metric, each carrying the run's metadata (`run`). The entries
    of the parts this run did not measure (scale, imports, the rest: `part`) stay as the
    last run that measured them wrote them; so do the import figures of setups this run
    did not measure (the same file size: `run["import_rows"]`). Returns every entry."""
    path.parent.mkdir(parents=True, exist_ok=True)
    entries = [dict(metric.as_dict(), run=run) for metric in metrics]
    measured = {part(metric.section) for metric in metrics}
    names = {metric.name for metric in metrics}
    if path.exists():
        for entry in json.loads(path.read_text()):
            entry_part = part(entry.get("section"))
            if entry_part not in measured or (
                    entry_part == IMPORT_SECTION and entry["name"] not in names and
                    entry.get("run", {}).get("import_rows") == run.get("import_rows")):
                entries.append(entry)
    path.write_text(json.dumps(entries, indent=2, ensure_ascii=False) + "\n")
    return entries


def metric_of(entry: dict) -> Metric:
    """A Metric again from its entry in results.json."""
    return Metric(**{name: entry[name] for name in Metric.__dataclass_fields__
                     if name in entry})


# -- docs/benchmarks.md ---------------------------------------------------------------

BEFORE = """\
## Before (the figures issue 6 started from)

| path | project | floor | ratio |
|---|---|---|---|
| outbox relay publishing into a durable bound queue | 957 events/s | windowed publisher confirms (100 in flight): 6,600-7,700/s | 8x slower |
| outbox commit + relay | 580-690 events/s | publish + consume with acks: 3,800-4,600/s | 6.7x |
| activities consumer working off a backlog (SQLite ; PostgreSQL) | 520 ; 430 events/s | consume + ack: 4,000 ; 5,900/s | 8x ; 13x |
| 1,000 clients, first POST to last timeline row (SQLite ; PostgreSQL) | 155-179 ; 140-144 events/s | 4,000-6,000/s | 23x ; 43x |
| RPC round trip p50, gateway pool → clients.health | 2.0-2.9 ms | raw request/reply 0.6-1.1 ms | 2.3-3.5x |
| RPC server CPU per call | 1.7-1.8 ms | 0.2-0.3 ms | 6-9x |
"""


LIMITS = """\
## Where the remaining limits are (profiles of 2026-11-24, this machine)

- **Consumer working off a backlog.** py-spy on the activities process working off 40,000
  `client.created` (SQLite; `py-spy record -p <pid> -f raw` while the backlog drains): about
  57% of its samples in the batch handler (the two multi-row inserts, inbox and entries,
  about 27%; the commit about 11%; building the entries from the events about 13%), about
  33% in reading and decoding AMQP frames in pure Python (py-amqp's `drain_events`, kombu's
  `Message.decode`), the rest nameko and eventlet. The floor only reads frames and acks, in
  a plain blocking loop, and the service process is CPU-bound on its one core (eventlet):
  the ceiling is one process's CPU per event. Replicas are the way out: two competing
  processes on PostgreSQL (the row above) pass the 0.40 target on these two cores, which
  they share with the broker and the database.
- **RPC server CPU per call.** The empty method on the same entrypoint (row above) is the
  framework's own minimum, about 3x the raw floor: nameko runs every call in a new
  greenthread (strace: two mmap/munmap of greenlet stacks per call) with its worker
  context, over eventlet's green sockets. Measured apart (3,000 calls, /proc utime and
  stime of each server): the bare service spends 0.42 ms of user CPU and 0.09 ms of system
  CPU per call, the raw py-amqp server 0.11 and 0.04; cProfile of the bare service counts
  about 1,170 Python function calls per call (kombu's consumer and producer, nameko's
  worker context, call-id stack and timing logger, eventlet's green socket loops around
  py-amqp's ten frame reads), against the floor's plain py-amqp loop. `clients.health` adds
  its database round trip (`SELECT 1`). Going below needs another RPC server than nameko's
  worker model (nameko is the pinned framework): a decision, not a tuning.
- **The gateway under HTTP load.** (Updated 2026-11-25; see "The gateway under HTTP
  load" above.) Per `GET /api/v1/clients/{id}` the processes of the path spend about 2 ms
  of CPU in all (`/proc` utime + stime under wrk, PostgreSQL): the gateway about 1 ms, the
  clients service 0.6 ms, RabbitMQ 0.35 ms, PostgreSQL 0.35 ms, wrk on top; two cores then
  serve about 1,000-1,100 such requests a second, which the gateway reaches since it runs
  as one process (two processes took turns on the cores the services need). No single
  piece of the gateway's own code stands out (py-spy `--gil` on its worker: the RPC call
  about a quarter of its Python, the after-request hook with the access line and metrics
  about a ninth, authentication a twentieth, marshmallow's dump a sixteenth). The card
  asks each service once now (three RPCs instead of nine) and costs about 12 ms of CPU in
  all (deals 2.9 ms, clients 2.7, the gateway 2.2, activities 2.0, RabbitMQ 1.1, plus
  PostgreSQL), so two cores serve about 150 cards a second and 200 a second still queues
  without bound; what remains per card is the services' own reads (in deals, its two deal
  lists with their stage names are 60 % of its time and the summary 20 %) and each
  service's framework cost per call (about 0.35 ms, the bullet above). Replicas of the
  services on more cores are what would serve 200 cards a second.
- **Bulk path.** Every process of the chain is busy at once on two cores (the CPU table
  above); the rate is the cores divided by the CPU per client of the whole chain. With more
  cores, each process (one core each) caps at 1 / its own CPU per client, and replicas of
  that service raise it again.
"""


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    text = f"{value:,.0f}" if abs(value) >= 10 else f"{value:.2f}"
    return f"{text} {unit}".strip()


def _target(metric: Metric) -> str:
    if metric.target is None:
        return "—"
    sign = "≥" if metric.better == HIGHER else "≤"
    if metric.target_on == "value":
        return f"{sign} {_number(metric.target, metric.unit)}"
    return f"{sign} {metric.target:.2f}"


def _met(metric: Metric) -> str:
    return {True: "yes", False: "**no**", None: "—"}[metric.met]


def is_memory(metric: Metric) -> bool:
    return metric.unit == "MiB"


CPU_PREFIX = "CPU per client in the bulk path: "
BUSY_PREFIX = "machine CPU busy during the bulk path"
IMPORT_CPU_PREFIX = "CPU seconds during the import: "


def is_account(metric: Metric) -> bool:
    return metric.name.startswith((CPU_PREFIX, BUSY_PREFIX, IMPORT_CPU_PREFIX))


def table(metrics: list[Metric], section: str | None = None) -> list[str]:
    """The main table (`section` None), or the table of one section."""
    lines = ["| path | project | floor | ratio | target | met |",
             "|---|---|---|---|---|---|"]
    for m in metrics:
        if is_memory(m) or is_account(m) or m.section != section:
            continue
        floor = "—" if m.floor is None else \
            f"{_number(m.floor, m.floor_unit or m.unit)} ({m.floor_name})"
        ratio = "—" if m.ratio is None else f"{m.ratio:.2f}"
        lines.append(f"| {m.name} | {_number(m.value, m.unit)} | {floor} | {ratio} | "
                     f"{_target(m)} | {_met(m)} |")
    return lines


def memory_table(metrics: list[Metric], section: str | None = None) -> list[str]:
    """Peak memory has no floor and no target: its own short table."""
    rows = [f"| {m.name.removeprefix('peak memory (VmHWM) of ')} | {m.value:.0f} |"
            for m in metrics if is_memory(m) and m.section == section]
    return ["| process, after | VmHWM MiB |", "|---|---|", *rows] if rows else []


def account_table(metrics: list[Metric]) -> list[str]:
    """Where the bulk path's CPU goes, per process: what caps it on this machine."""
    rows = [f"| {m.name.removeprefix(CPU_PREFIX)} | {m.value:.2f} |"
            for m in metrics if m.name.startswith(CPU_PREFIX)]
    busy = [f"{m.name.removeprefix(BUSY_PREFIX).strip()}: {m.value:.0f} %"
            for m in metrics if m.name.startswith(BUSY_PREFIX)]
    if not rows:
        return []
    return ["### Where the bulk path's CPU goes", "",
            "CPU milliseconds per client of each process during the fastest bulk run "
            "(utime + stime from /proc; PostgreSQL's own backends are not listed), and how "
            f"busy all cores were meanwhile ({'; '.join(busy)}). With the cores this busy "
            "the rate is bound by the CPU the whole chain needs per client; each service "
            "is one process on one core (eventlet), so with more cores the cap is its "
            "busiest process, and more replicas of it (PostgreSQL) raise that in turn.", "",
            "| process (database) | CPU ms per client |", "|---|---|", *rows, ""]


GATEWAY_SECTION = "gateway"


def gateway_section(metrics: list[Metric], run: dict) -> list[str]:
    """The gateway under HTTP load: its own table, and how it was measured."""
    from .settings import CARD_RATE, FIXED_RATE, HTTP_CONNECTIONS
    if not any(m.section == GATEWAY_SECTION for m in metrics):
        return []
    return [
        "## The gateway under HTTP load", "",
        "The stack's gateway under gunicorn (`crm_gateway/gunicorn_conf.py` defaults: one "
        "process of 16 threads with gthread) in front of the clients, activities and "
        "deals services on **PostgreSQL**, authenticated with the "
        "bootstrap admin token; the floor is gunicorn with the same settings and worker "
        "class serving one static JSON body (a client resource, `bench/static_app.py`), "
        "started beside it in the same run. Each worker class has its own gateway and "
        "floor in front of the same services, measured in turn in every round. The card's "
        "client has an IČO, a parent, two subsidiaries, three contact persons, three open "
        "and two won deals, two open tasks and a full timeline, among 1,000 other "
        "clients; the run checks that every section of its card is there (the card asks "
        "each of the three services once). `requests/s`: wrk (closed loop, "
        f"{HTTP_CONNECTIONS} keep-alive connections, one wrk thread). `p50`/`p99 at N "
        "req/s`: `bench/http_load.py`'s open-loop generator (wrk 4 cannot hold a rate: "
        "that is wrk2's `-R`), which sends on a fixed schedule whatever the answers do and "
        "counts each latency from when its request was due, as wrk2 does. Every run is "
        f"{run.get('http_seconds', '?')} s after a 1 s warm-up; the card is also measured "
        f"at {CARD_RATE} req/s, a load one clients process keeps up with ({FIXED_RATE} "
        "cards/s is more than the machine serves, see below). The load generators run "
        "on the same two cores as everything else. The command: "
        f"`{run['command']}` (wrk from `scripts/ensure-wrk.sh`; "
        "`BENCH_GATEWAY_WORKERS=gthread,gevent` measures both worker classes in a quick "
        "run too).", "",
        *table(metrics, GATEWAY_SECTION), "",
    ]


SCALE_SECTION = "scale"
SCALE_HEADING = "## The client register at scale"
IMPORT_SECTION = "imports"
IMPORT_HEADING = "## Client import from a spreadsheet"
REGISTRY_SECTION = "registry"
REGISTRY_HEADING = "## Bulk registry refresh (ARES)"
STANDALONE = (SCALE_SECTION, IMPORT_SECTION, REGISTRY_SECTION)  # measured alone, or not
HEADINGS = {SCALE_SECTION: SCALE_HEADING, IMPORT_SECTION: IMPORT_HEADING,
            REGISTRY_SECTION: REGISTRY_HEADING}


def registry_section(metrics: list[Metric], run: dict) -> list[str]:
    return [REGISTRY_HEADING, "",
            f"Measured by `{run['command']}` on {run['time']} (`bench/registry.py`): "
            f"{run.get('registry_clients', 0):,} clients with valid IČOs created through the "
            "gateway on SQLite (clients, activities, ares; the fake ARES finds every valid "
            "IČO) and enriched, then `POST /api/v1/registry-refresh {\"all\": true}` until "
            "the job is completed. The throttle's floor is the least time its bucket "
            "(300 requests a minute, burst 10) allows for the requests the job made; the "
            "HTTP floor sends the same lookups straight to the fake ARES, 100 IČOs a "
            "request, unthrottled.", "",
            *table(metrics, REGISTRY_SECTION), ""]


def scale_section(metrics: list[Metric], run: dict) -> list[str]:
    from .scale_report import section
    return section(metrics, run)


def import_section(entries: list[dict]) -> list[str]:
    from .import_report import section
    return section(entries)


def markdown(metrics: list[Metric], run: dict, kept: dict[str, str] | None = None,
             import_entries: list[dict] | None = None) -> str:
    """The whole document; `kept`: the standalone sections as written ({section: text}),
    for those this run did not measure; `import_entries`: the import figures to show
    (results.json's, this run's among them)."""
    kept = kept or {}
    versions = run["versions"]
    machine = run["machine"]
    notes = [f"- {m.name}: {m.note}" for m in metrics
             if m.note and m.section not in STANDALONE]

    def standalone(section: str, made: list[str]) -> list[str]:
        return made or ([kept[section].rstrip("\n"), ""] if kept.get(section) else [])

    lines = [
        "# Benchmarks", "",
        f"Measured by `{run['command']}` (code in `bench/`) on {run['time']}, in "
        f"{run['seconds']:.0f} s; every figure is the best of its measurements, the project "
        "and its floor taken alternately in the same run (floor, project, floor, ...). "
        "Floors are raw py-amqp programs on the same broker: durable queues, persistent "
        "messages, the same bodies. Ratio = project ÷ floor: for a rate the share of the "
        "floor reached, for a time how many times the floor it takes. All figures and "
        "samples, with the load average at each, are in `var/bench/results.json`.", "",
        *table(metrics), "",
        *memory_table(metrics), "",
        *account_table(metrics),
        *gateway_section(metrics, run),
        *standalone(SCALE_SECTION, scale_section(metrics, run)),
        *standalone(IMPORT_SECTION, import_section(import_entries or [])
                    if any(m.section == IMPORT_SECTION for m in metrics) else []),
        *standalone(REGISTRY_SECTION, registry_section(metrics, run)
                    if any(m.section == REGISTRY_SECTION for m in metrics) else []),
        *(["Notes:", "", *notes, ""] if notes else []),
        *([f"**Failed** (no figures): {'; '.join(run['errors'])}", ""]
          if run.get("errors") else []),
        f"Machine: {machine['cpu']}, {machine['cpu_count']} cores, "
        f"{machine['memory_gib']} GiB, Linux {machine['kernel']}; shared and noisy, so "
        "compare figures of one run with each other. Load average (1 min) during the run: "
        f"{run['load_average_range']}.", "",
        f"Versions: Python {versions['python']}, RabbitMQ {versions['rabbitmq']}, "
        f"PostgreSQL {versions['postgresql']}, nameko {versions['nameko']}, "
        f"py-amqp {versions['amqp']}, kombu {versions['kombu']}, "
        f"SQLAlchemy {versions['sqlalchemy']}.", "",
        f"Sizes: {run['sizes']}.", "",
        LIMITS,
        BEFORE,
    ]
    return "\n".join(lines)


def write_markdown(path: Path, metrics: list[Metric], run: dict,
                   import_entries: list[dict] | None = None) -> None:
    """The document. A run of standalone sections only (scale, imports) rewrites only
    those sections of the document there is, each in its place (a new one before the
    limits); any other run writes the whole document, keeping the standalone sections it
    did not measure as they are written."""
    old = path.read_text() if path.exists() else ""
    kept = {section: _section(old, heading) for section, heading in HEADINGS.items()}
    measured = {m.section for m in metrics}
    if metrics and measured <= set(STANDALONE) and old:
        text = old
        made = {SCALE_SECTION: lambda: scale_section(metrics, run),
                IMPORT_SECTION: lambda: import_section(import_entries or []),
                REGISTRY_SECTION: lambda: registry_section(metrics, run)}
        for section in STANDALONE:
            if section not in measured:
                continue
            new = "\n".join(made[section]()) + "\n"
            if kept[section]:
                text = text.replace(kept[section], new)
            else:
                text = text.replace(LIMITS.splitlines()[0], new + LIMITS.splitlines()[0], 1)
    else:
        text = markdown(metrics, run, kept, import_entries)
    path.write_text(text)


def _section(text: str, heading: str) -> str:
    """A section of the document: its heading to the next one of its level."""
    start = text.find(heading + "\n")
    if start < 0:
        return ""
    end = text.find("\n## ", start + len(heading))
    return text[start:end + 1 if end >= 0 else len(text)]


def now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S %Z")
