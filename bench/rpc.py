"""Paths 5 and 6: serial RPC calls, the gateway's pool (crm_common.rpc.RpcPool) calling
`clients.health` on the running service, and the raw request/reply floor; round-trip
latency and the CPU time the server process spends per call (from /proc)."""
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from crm_common.rpc import RemoteError, RpcPool

from .floors import RawRpcClient, RawRpcServer
from .procfs import cpu_seconds

WARM_UP = 50


@dataclass
class RpcRun:
    p50_ms: float
    p95_ms: float
    calls: int
    server_cpu_seconds: float  # clock ticks of 10 ms: pool several runs to compare

    @property
    def server_cpu_ms_per_call(self) -> float:
        return self.server_cpu_seconds / self.calls * 1000


def pooled_cpu_ms_per_call(runs: list[RpcRun]) -> float:
    """CPU per call over all runs together: /proc counts in clock ticks (10 ms), too coarse
    for one run of a server spending 0.1 ms a call."""
    return sum(r.server_cpu_seconds for r in runs) / sum(r.calls for r in runs) * 1000


def _timed(call, server_pid: int, count: int) -> RpcRun:
    for _ in range(WARM_UP):
        call()
    samples = []
    cpu_before = cpu_seconds(server_pid)
    for _ in range(count):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    cpu = cpu_seconds(server_pid) - cpu_before
    cuts = statistics.quantiles(samples, n=20)
    return RpcRun(statistics.median(samples) * 1000, cuts[18] * 1000, count, cpu)


def project(amqp_uri: str, clients_pid: int, count: int) -> RpcRun:
    return _pooled(amqp_uri, "clients", "health", clients_pid, count)


def _pooled(amqp_uri: str, service: str, method: str, server_pid: int, count: int
            ) -> RpcRun:
    """`count` serial calls through the gateway's pool."""
    pool = RpcPool(amqp_uri)
    try:
        return _timed(lambda: pool.call(service, method, {}), server_pid, count)
    finally:
        pool.close()


def floor(amqp_uri: str, count: int) -> RpcRun:
    server = RawRpcServer(amqp_uri)
    client = RawRpcClient(amqp_uri, server.queue)
    try:
        return _timed(client.call, server.pid, count)
    finally:
        client.close()
        server.close()


@contextmanager
def bare_service(amqp_uri: str):
    """`bench.bare_service` running in its own process; yields its pid."""
    config = Path(tempfile.mkdtemp(prefix="crm-bench-bare-")) / "config.yaml"
    config.write_text(f"AMQP_URI: '{amqp_uri}'\nmax_workers: 10\nHEARTBEAT: 30\n")
    root = Path(__file__).resolve().parents[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "nameko", "run", "--config", str(config),
         "bench.bare_service:Bare"], cwd=root, env=dict(os.environ, LOG_LEVEL="WARNING"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pool = RpcPool(amqp_uri)
    try:
        deadline = time.monotonic() + 60
        while True:  # until it consumes its queue
            try:
                pool.call("benchbare", "ping", {}, timeout=2)
                break
            except (RemoteError, Exception):  # noqa: BLE001 - not up yet
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the bare nameko service did not start")
                time.sleep(0.2)
        yield process.pid
    finally:
        pool.close()
        process.terminate()
        process.wait(30)


def bare(amqp_uri: str, pid: int, count: int) -> RpcRun:
    return _pooled(amqp_uri, "benchbare", "ping", pid, count)
