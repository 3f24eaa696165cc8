"""HTTP load on one URL: wrk for the most a server answers (closed loop: each connection
sends its next request when the last one is answered), and an open-loop generator at a
fixed rate for latency under a given load.

wrk (the Debian package, 4.1) cannot hold a rate (that is wrk2's `-R`), so the fixed rate is
`fixed_rate` below, wrk2's way: requests leave on a schedule (one every 1/rate s, whatever
the answers do) on up to `connections` keep-alive connections (64, as a load balancer's
pool; a request that finds them all busy waits for one), and each latency is counted
from the moment its request was due, not from when it could be sent, so a server that
stalls is charged for the requests that queued behind the stall (no "coordinated omission").
"""
import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

# wrk's Lua: the bearer token from the environment; at the end one JSON line of the figures
IDLE_REUSE = 2.0  # seconds an idle keep-alive connection is reused after; then a new one

WRK_SCRIPT = """\
local token = os.getenv("BENCH_TOKEN")
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, ' ..
    '"write": %d, "status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"max_us": %d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


@dataclass
class Throughput:
    """wrk's figures: a closed loop of `connections` connections for `seconds`."""
    rate: float  # answers per second
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # failed connections, reads, writes, timeouts, and answers of 4xx/5xx
    connections: int

    def __str__(self):
        return (f"{self.rate:,.0f} req/s with {self.connections} connections, p50 "
                f"{self.p50_ms:.1f} ms, p99 {self.p99_ms:.1f} ms, {self.errors} errors")


@dataclass
class FixedRate:
    """Latencies at a fixed rate (open loop), counted from when each request was due."""
    rate: float  # asked
    achieved: float  # answers per second over the run
    p50_ms: float
    p99_ms: float
    max_ms: float
    requests: int
    errors: int  # answers other than 200, and failed connections
    incomplete: int = 0  # 200 answers with `incomplete` in their body
    failures: dict[str, int] = field(default_factory=dict)  # what the errors were
    # (ms, place of its URL): the slowest answer of each of the five slowest URLs
    slowest: list[tuple[float, int]] = field(default_factory=list)

    def __str__(self):
        return (f"{self.achieved:,.0f} of {self.rate:,.0f} req/s: p50 {self.p50_ms:.1f} ms, "
                f"p99 {self.p99_ms:.1f} ms, max {self.max_ms:.1f} ms, {self.errors} errors"
                + (f", {self.incomplete} incomplete" if self.incomplete else ""))


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def wrk(url: str, seconds: float, connections: int, token: str | None = None,
        threads: int = 1, script_dir: Path | None = None) -> Throughput:
    """`wrk` against `url` (GET), keep-alive connections; raises when wrk fails or any
    request failed."""
    if not wrk_available():
        raise RuntimeError("wrk is not installed: scripts/ensure-wrk.sh installs it")
    script = Path(script_dir or tempfile.gettempdir()) / f"crm-bench-wrk-{os.getpid()}.lua"
    script.write_text(WRK_SCRIPT)
    try:
        done = subprocess.run(
            ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds:g}s",
             "--timeout", "10s", "-s", str(script), url],
            env=dict(os.environ, BENCH_TOKEN=token or ""), capture_output=True, text=True,
            timeout=seconds + 60)
    finally:
        script.unlink(missing_ok=True)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if done.returncode or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    figures = json.loads(line.removeprefix("BENCH_JSON "))
    errors = sum(figures[k] for k in ("connect", "read", "write", "status", "timeout"))
    result = Throughput(rate=figures["requests"] / (figures["duration_us"] / 1e6),
                        p50_ms=figures["p50_us"] / 1000, p99_ms=figures["p99_us"] / 1000,
                        requests=figures["requests"], errors=errors, connections=connections)
    if errors:
        raise RuntimeError(f"{url}: {errors} of {figures['requests']} requests failed "
                           f"({figures})")
    return result


def fixed_rate(url: str | list[str], rate: float, seconds: float, token: str | None = None,
               connections: int = 64, warm_connections: int = 4,
               incomplete: bytes | None = None) -> FixedRate:
    """GET `url` `rate` times a second for `seconds`, open loop (see the module's doc);
    raises when any request failed. Several URLs (of one server) are asked in turn, one
    after the other. An answer whose body holds `incomplete` is counted (a client card
    with a section the services did not deliver in time)."""
    urls = [url] if isinstance(url, str) else list(url)
    result = asyncio.run(_fixed_rate(urls, rate, seconds, token, connections,
                                     warm_connections, incomplete))
    if result.errors:
        raise RuntimeError(f"{urls[0]}{' ...' if len(urls) > 1 else ''}: {result.errors} of "
                           f"{result.requests} requests failed at {rate:g} req/s: "
                           f"{result.failures}")
    return result


async def _fixed_rate(urls, rate, seconds, token, connections, warm_connections,
                      incomplete) -> FixedRate:
    parts = urlsplit(urls[0])
    host, port = parts.hostname, parts.port or 80
    headers = f"Host: {parts.netloc}\r\nAccept: application/json\r\n"
    if token:
        headers += f"Authorization: Bearer {token}\r\n"

    def request_of(url: str) -> bytes:
        target = urlsplit(url)
        path = target.path + (f"?{target.query}" if target.query else "")
        return f"GET {path} HTTP/1.1\r\n{headers}\r\n".encode()
    requests = [request_of(url) for url in urls]
    loop = asyncio.get_running_loop()
    # (connection, when it was last used), the most recently used last
    idle: list[tuple[tuple, float]] = []
    opened = 0
    freed = asyncio.Condition()
    latencies: list[float] = []
    by_place: list[tuple[float, int]] = []  # (latency, which URL)
    errors = partial = 0
    failures: dict[str, int] = {}  # what went wrong, for the message

    def failed(what: str):
        nonlocal errors
        errors += 1
        failures[what] = failures.get(what, 0) + 1

    async def take(fresh: bool = False) -> tuple[tuple, bool]:
        """(connection, reused): an idle one (unless `fresh`), a new one while fewer than
        `connections` are open, else the next one freed (the request waits; its latency
        still counts from when it was due)."""
        nonlocal opened
        async with freed:
            while True:
                # a client pool's idle timeout, below the server's keep-alive (gunicorn's
                # 5 s): a connection the server is closing is never sent a request
                while idle and loop.time() - idle[0][1] > IDLE_REUSE:
                    idle.pop(0)[0][1].close()
                    opened -= 1
                if idle and not fresh:
                    return idle.pop()[0], True
                if opened < connections:
                    opened += 1
                    break
                if idle:  # a fresh one wanted and none may open: the longest idle goes
                    idle.pop(0)[0][1].close()
                    opened -= 1
                    continue
                await freed.wait()
        try:
            return await asyncio.open_connection(host, port), False
        except OSError:
            await give(None)
            raise

    async def give(conn):
        nonlocal opened
        async with freed:
            if conn is None:
                opened -= 1
            else:
                idle.append((conn, loop.time()))
            freed.notify()

    async def exchange(conn, request: bytes) -> tuple[int, bytes]:
        reader, writer = conn
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        body = await reader.readexactly(length)
        return int(head[9:12]), body

    async def one(due: float, place: int):
        nonlocal partial
        request = requests[place]
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        for attempt in (1, 2):
            try:
                conn, reused = await take(fresh=attempt == 2)
            except OSError as exc:
                failed(f"connect: {type(exc).__name__}")
                return
            try:
                status, body = await exchange(conn, request)
            except (OSError, asyncio.IncompleteReadError) as exc:
                conn[1].close()
                await give(None)
                if reused and attempt == 1:
                    continue  # the server closed an idle keep-alive connection: a new one
                failed(f"{type(exc).__name__}")
                return
            latencies.append(loop.time() - due)
            by_place.append((latencies[-1], place))
            await give(conn)
            if status != 200:
                failed(f"status {status}")
            elif incomplete and incomplete in body:
                partial += 1
            return

    for _ in range(warm_connections):
        # each warm connection carries a request (not counted) before the schedule
        # starts: gthread hands a new connection to a thread that waits for its first
        # request, so one opened and left idle would hold a thread
        conn = await asyncio.open_connection(host, port)
        await exchange(conn, requests[0])
        idle.append((conn, loop.time()))
        opened += 1
    count = max(1, int(rate * seconds))
    start = loop.time() + 0.05
    started = time.monotonic()
    await asyncio.gather(*(one(start + i / rate, i % len(requests)) for i in range(count)))
    elapsed = time.monotonic() - started
    for (_, writer), _ in idle:
        writer.close()
    latencies.sort()
    worst: dict[int, float] = {}
    for latency, place in sorted(by_place, reverse=True):
        worst.setdefault(place, latency)
        if len(worst) == 5:
            break
    if not latencies:
        return FixedRate(rate, 0.0, 0.0, 0.0, 0.0, count, errors or count, failures=failures)
    return FixedRate(rate=rate, achieved=len(latencies) / elapsed,
                     p50_ms=1000 * percentile(latencies, 50),
                     p99_ms=1000 * percentile(latencies, 99),
                     max_ms=1000 * latencies[-1], requests=count, errors=errors,
                     incomplete=partial, failures=failures,
                     slowest=[(round(1000 * latency, 1), place)
                              for place, latency in worst.items()])


def percentile(ordered: list[float], q: float) -> float:
    """Nearest rank of a sorted list."""
    rank = max(1, -(-len(ordered) * q // 100))  # ceil
    return ordered[int(rank) - 1]
