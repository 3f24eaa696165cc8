"""Sizes of a run: `BENCH_QUICK=1` (make bench QUICK=1) takes a quarter or less of the full
sizes; each size can also be set on its own (`BENCH_EVENTS=...`)."""
import os
from dataclasses import dataclass

FULL = {"events": 20_000, "backlog": 10_000, "bulk": 5_000, "rpc_calls": 2_000, "rounds": 3,
        "bulk_dialects": "sqlite,postgresql", "http_seconds": 6,
        "gateway_workers": "gthread,gevent", "scale_clients": 1_000_000, "scale_seconds": 20,
        "import_rows": 100_000, "import_rounds": 1, "import_setups": "sqlite",
        "registry_clients": 10_000}
QUICK = {"events": 5_000, "backlog": 2_500, "bulk": 1_000, "rpc_calls": 500, "rounds": 2,
         "bulk_dialects": "sqlite", "http_seconds": 4, "gateway_workers": "gthread",
         "scale_clients": 50_000, "scale_seconds": 8,
         "import_rows": 20_000, "import_rounds": 1, "import_setups": "sqlite",
         "registry_clients": 1_000}
# the phases of a run, in order (`python -m bench scale`, BENCH_PHASES=scale: some of them)
PHASES = ("outbox", "backlog", "whole_stack", "gateway", "scale", "imports", "registry")
# the client import's setups (BENCH_IMPORT_SETUPS, comma-separated): a database, and with
# "-core" only the importer and the clients service instead of every service (fake ARES)
IMPORT_SETUPS = ("sqlite", "postgresql", "sqlite-core", "postgresql-core")

WINDOW = 100  # publisher confirms in flight, as RabbitMQ PerfTest runs them
# nameko's RPC consumer prefetches max_workers messages (services/*/config.yaml: 10); the
# floors' servers and consumers do too (the backlog floor takes the handler's own window)
PREFETCH = 10

# the gateway under HTTP load (bench/gateway_load.py): wrk's connections for the most it
# answers (gunicorn's one process of 16 threads by default: this keeps every thread busy
# without a queue in front of them), and the fixed rates of the latency runs
HTTP_CONNECTIONS = 16
FIXED_RATE = 200  # requests/s, the load for the p99 target
CARD_RATE = 50  # requests/s, the card's latency where one clients process keeps up
# the client register at scale (bench/scale.py): the rate of each latency run, and how
# many times the floor runs each request of a set
SCALE_RATE = 10
SCALE_FLOOR_REPEATS = 3


def keep_scale_database() -> bool:
    """BENCH_SCALE_KEEP=1: the loaded database stays for the next run (which reuses it)."""
    return os.environ.get("BENCH_SCALE_KEEP", "").lower() not in ("", "0", "false", "no")


def quick() -> bool:
    return os.environ.get("BENCH_QUICK", "").lower() not in ("", "0", "false", "no")


@dataclass(frozen=True)
class Sizes:
    events: int  # outbox events per relay measurement
    backlog: int  # events waiting in the activities queue before it starts
    bulk: int  # clients created through the gateway
    rpc_calls: int  # serial calls per RPC measurement
    rounds: int  # project measurements per path; floors run before, between and after
    bulk_dialects: tuple[str, ...]
    http_seconds: int  # each HTTP load run (wrk, and each fixed rate)
    gateway_workers: tuple[str, ...]  # gunicorn worker classes measured
    scale_clients: int  # generated clients of the scale phase
    scale_seconds: int  # each of its latency runs
    import_rows: int  # rows of the imported file (XLSX and CSV)
    import_rounds: int  # imports of each file per setup (each one minutes long)
    import_setups: tuple[str, ...]  # IMPORT_SETUPS measured
    registry_clients: int  # clients of the bulk registry refresh

    @classmethod
    def from_env(cls) -> "Sizes":
        base = QUICK if quick() else FULL

        def pick(name):
            value = os.environ.get(f"BENCH_{name.upper()}") or base[name]
            return int(value) if isinstance(base[name], int) else value

        return cls(events=pick("events"), backlog=pick("backlog"), bulk=pick("bulk"),
                   rpc_calls=pick("rpc_calls"), rounds=max(1, pick("rounds")),
                   bulk_dialects=tuple(d for d in pick("bulk_dialects").split(",") if d),
                   http_seconds=pick("http_seconds"),
                   gateway_workers=tuple(w for w in pick("gateway_workers").split(",") if w),
                   scale_clients=pick("scale_clients"), scale_seconds=pick("scale_seconds"),
                   import_rows=pick("import_rows"), import_rounds=max(1, pick("import_rounds")),
                   import_setups=tuple(s for s in pick("import_setups").split(",") if s),
                   registry_clients=pick("registry_clients"))

    def describe(self) -> str:
        return (f"{self.events:,} outbox events, backlog of {self.backlog:,}, {self.bulk:,} "
                f"bulk clients ({', '.join(self.bulk_dialects)}), {self.rpc_calls:,} RPC calls, "
                f"HTTP load runs of {self.http_seconds} s (gunicorn "
                f"{', '.join(self.gateway_workers) or 'not measured'}), "
                f"{self.scale_clients:,} clients at scale; {self.rounds} project round(s) "
                "per path")

    def describe_imports(self) -> str:
        return (f"{self.import_rows:,} rows, {self.import_rounds} import(s) of each file "
                f"per setup ({', '.join(self.import_setups)})")

    def describe_scale(self) -> str:
        return (f"{self.scale_clients:,} clients, latency runs of {self.scale_seconds} s, "
                f"{self.rounds} round(s)")
