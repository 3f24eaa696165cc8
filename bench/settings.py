"""Sizes of a run: `BENCH_QUICK=1` (make bench QUICK=1) takes a quarter or less of the full
sizes; each size can also be set on its own (`BENCH_EVENTS=...`)."""
import os
from dataclasses import dataclass

FULL = {"events": 20_000, "backlog": 10_000, "bulk": 5_000, "rpc_calls": 2_000, "rounds": 3,
        "bulk_dialects": "sqlite,postgresql", "http_seconds": 6,
        "gateway_workers": "gthread,gevent"}
QUICK = {"events": 5_000, "backlog": 2_500, "bulk": 1_000, "rpc_calls": 500, "rounds": 2,
         "bulk_dialects": "sqlite", "http_seconds": 4, "gateway_workers": "gthread"}

WINDOW = 100  # publisher confirms in flight, as RabbitMQ PerfTest runs them
# nameko's RPC consumer prefetches max_workers messages (services/*/config.yaml: 10); the
# floors' servers and consumers do too (the backlog floor takes the handler's own window)
PREFETCH = 10

# the gateway under HTTP load (bench/gateway_load.py): wrk's connections for the most it
# answers (gunicorn's 2 workers x 8 threads by default: this keeps every thread busy without
# a queue in front of them), and the fixed rates of the latency runs
HTTP_CONNECTIONS = 16
FIXED_RATE = 200  # requests/s, the load for the p99 target
CARD_RATE = 50  # requests/s, the card's latency where one clients process keeps up


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
                   gateway_workers=tuple(w for w in pick("gateway_workers").split(",") if w))

    def describe(self) -> str:
        return (f"{self.events:,} outbox events, backlog of {self.backlog:,}, {self.bulk:,} "
                f"bulk clients ({', '.join(self.bulk_dialects)}), {self.rpc_calls:,} RPC calls, "
                f"HTTP load runs of {self.http_seconds} s (gunicorn "
                f"{', '.join(self.gateway_workers) or 'not measured'}); "
                f"{self.rounds} project round(s) per path")
