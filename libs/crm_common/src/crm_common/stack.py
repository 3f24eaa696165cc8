"""Start, watch and stop the whole system as local processes (for `make run` and the tests).

    python -m crm_common.stack run [--fake-ares]   # foreground; restarts crashed processes;
                                                   # Ctrl-C stops everything
    python -m crm_common.stack up  [--fake-ares]   # the same in a detached supervisor;
                                                   # pids in var/stack.json, logs in var/logs/
    python -m crm_common.stack down                # stops the supervisor and its children

Every service runs as `nameko run` on its own database (SQLite under var/ unless
`<SERVICE>_DATABASE_URL` says otherwise); the gateway runs in front of them under gunicorn
(`GATEWAY_WORKERS`, `GATEWAY_THREADS`, `GATEWAY_WORKER_CLASS`: crm_gateway/gunicorn_conf.py).
`--services clients,deals` and `--no-gateway` start a smaller stack.
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

# name -> the nameko service class (named, so imported mixins are never taken for services)
SERVICES = {
    "clients": "clients_service.service:ClientsService",
    "deals": "deals_service.service:DealsService",
    "activities": "activities_service.service:ActivitiesService",
    "ares": "ares_service.service:AresService",
    "importer": "importer_service.service:ImporterService",
}

STOP_TIMEOUT = 15  # seconds a process gets to finish its workers after SIGTERM


def nameko_command(name: str) -> list[str]:
    """`nameko run` of one service, from the repository root or an image's /app."""
    return ["nameko", "run", "--config", f"services/{name}/config.yaml", SERVICES[name]]


def gateway_command(python: str) -> list[str]:
    """The gateway under gunicorn, configured from the environment (GATEWAY_WORKERS,
    GATEWAY_THREADS, GATEWAY_WORKER_CLASS, ...: crm_gateway/gunicorn_conf.py); its master
    is the stack's process, whose group (the workers too) gets the signals.
    `python -m crm_gateway` (Flask's server) is for debugging."""
    return [python, "-m", "gunicorn", "-c", "python:crm_gateway.gunicorn_conf",
            "crm_gateway.wsgi:app"]


def repo_root() -> Path:
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "services").is_dir() and (parent / "libs").is_dir():
            return parent
    return Path.cwd()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def process_key(name: str, replica: int = 1) -> str:
    """The key in `Stack.procs` (and the log file's name) of one replica of a service."""
    return name if replica == 1 else f"{name}.{replica}"


@dataclass(frozen=True)
class RestartPolicy:
    """Exponential backoff between restarts of a process that keeps crashing."""
    initial: float = 1.0
    maximum: float = 30.0
    reset_after: float = 60.0  # a process that stayed up this long starts again at `initial`


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _say_with_time(message: str) -> None:  # the detached supervisor's log
    _say(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}")


class Stack:
    def __init__(self, env: dict | None = None, var_dir: Path | None = None,
                 services=tuple(SERVICES), gateway: bool = True, fake_ares: bool = False,
                 gateway_port: int | None = None, root: Path | None = None,
                 replicas: dict[str, int] | None = None):
        self.root = root or repo_root()
        self.var = Path(var_dir or os.environ.get("CRM_VAR_DIR") or self.root / "var")
        self.logs = self.var / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.env = dict(os.environ, **(env or {}))
        self.env.setdefault("CRM_VAR_DIR", str(self.var))
        self.env.setdefault("PYTHONUNBUFFERED", "1")
        self.services = list(services)
        self.replicas = dict(replicas or {})
        self.gateway = gateway
        self.gateway_port = int(gateway_port or self.env.get("GATEWAY_PORT") or 8080)
        self.first_login: str | None = None  # how to log in the first time (make run)
        self.fake_ares = fake_ares
        self.procs: dict[str, subprocess.Popen] = {}
        self.python = sys.executable
        self.on_spawn: Callable[[str, subprocess.Popen], None] | None = None
        self._commands: dict[str, tuple[list[str], Path]] = {}  # key -> how to restart it
        self._started_at: dict[str, float] = {}
        self._lock = threading.RLock()  # procs is shared with a supervising thread
        self._stopping = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def log_path(self, key: str) -> Path:
        return self.logs / f"{key}.log"

    def _spawn(self, key: str, argv: list[str], cwd: Path | None = None):
        cwd = cwd or self.root
        with self._lock, open(self.log_path(key), "ab") as log:
            proc = subprocess.Popen(argv, cwd=cwd, env=self.env, stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
            self.procs[key] = proc
            self._commands[key] = (argv, cwd)
            self._started_at[key] = time.monotonic()
        if self.on_spawn:
            self.on_spawn(key, proc)
        return proc

    def migrate(self):
        for name in self.services:
            done = subprocess.run([self.python, "-m", "crm_common.migrate", "--queues",
                                   f"services/{name}"],
                                  cwd=self.root, env=self.env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if done.returncode:
                error = done.stderr.decode(errors="replace").strip().splitlines()[-20:]
                raise RuntimeError(f"migrating {name} failed:\n" + "\n".join(error))
        if self.gateway:  # its own database: users, tokens, the audit log
            self._run_once("gateway", [self.python, "-m", "crm_common.migrate", "gateway"])
            self.first_login = self._run_once("gateway setup", [
                self.python, "-m", "crm_gateway.setup", "--base-url", self.url]).strip()

    def _run_once(self, what: str, argv: list[str]) -> str:
        done = subprocess.run(argv, cwd=self.root, env=self.env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
        if done.returncode:
            error = done.stderr.decode(errors="replace").strip().splitlines()[-20:]
            raise RuntimeError(f"{what} failed:\n" + "\n".join(error))
        return done.stdout.decode(errors="replace")

    def start(self, wait: float = 60):
        self._stopping = False
        if self.fake_ares:
            port = free_port()
            self._spawn("fake-ares", [self.python, "-m", "ares_service.fake",
                                      "--host", "127.0.0.1", "--port", str(port)])
            self.env["ARES_BASE_URL"] = \
                f"http://127.0.0.1:{port}/ekonomicke-subjekty-v-be/rest"
            if "deals" in self.services:  # offline: the ČNB's recorded rates too
                port = free_port()
                self._spawn("fake-cnb", [self.python, "-m", "deals_service.fake_cnb",
                                         "--host", "127.0.0.1", "--port", str(port)])
                self.env["CNB_RATES_URL"] = f"http://127.0.0.1:{port}/cs/financni-trhy/" \
                    "devizovy-trh/kurzy-devizoveho-trhu/kurzy-devizoveho-trhu/denni_kurz.txt"
        self.migrate()
        for name in self.services:
            for replica in range(1, self.replicas.get(name, 1) + 1):
                self.start_service(name, replica)
        if self.gateway:
            self.env["GATEWAY_PORT"] = str(self.gateway_port)
            self._spawn("gateway", gateway_command(self.python))
        self.wait_ready(wait)
        return self

    def start_service(self, name: str, replica: int = 1) -> subprocess.Popen:
        return self._spawn(process_key(name, replica),
                           [self.python, "-m", *nameko_command(name)])

    def stop_service(self, name: str, sig=signal.SIGTERM, timeout: float = STOP_TIMEOUT,
                     replica: int = 1):
        self._stop_process(process_key(name, replica), sig, timeout)

    def _stop_process(self, key: str, sig=signal.SIGTERM, timeout: float = STOP_TIMEOUT):
        """Signal `sig` (None: it was signalled already), wait, SIGKILL after `timeout`."""
        with self._lock:  # gone from procs first, so a supervisor never restarts it
            proc = self.procs.pop(key, None)
        if proc is None or proc.poll() is not None:
            return
        try:
            if sig is not None:
                os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def wait_ready(self, timeout: float = 60):
        """Until every started service answers its `health` RPC and then, with a gateway,
        its /readyz says it can serve (or a process died)."""
        deadline = time.monotonic() + timeout
        self.wait_services(timeout)
        if not self.gateway:
            return
        last = None
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=5) as resp:
                    if resp.status == 200:
                        return
            except Exception as exc:  # noqa: BLE001 - not up yet
                last = exc
            time.sleep(0.3)
        raise RuntimeError(f"the gateway did not get ready in {timeout}s: {last}\n"
                           f"{self.tail('gateway')}")

    def wait_services(self, timeout: float = 60):
        """Until every started service answers its `health` RPC (any one replica)."""
        from .rpc import RpcPool
        pool = RpcPool(self.env.get("AMQP_URI") or "amqp://guest:guest@localhost:5672/")
        deadline = time.monotonic() + timeout
        try:
            for name in self.services:
                while True:
                    self._check_alive()
                    try:
                        pool.call(name, "health", {}, timeout=2)
                        break
                    except Exception:  # noqa: BLE001 - not consuming yet
                        if time.monotonic() > deadline:
                            raise RuntimeError(f"{name} did not answer in {timeout}s:\n"
                                               f"{self.tail(name)}")
                        time.sleep(0.2)
        finally:
            pool.close()

    def _check_alive(self):
        for key, proc in list(self.procs.items()):
            if proc.poll() is not None:
                raise RuntimeError(f"{key} exited with {proc.returncode}; see "
                                   f"{self.log_path(key)}:\n{self.tail(key)}")

    def tail(self, key: str, lines: int = 40) -> str:
        path = self.log_path(key)
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) \
            if path.exists() else ""

    def stop(self):
        """SIGTERM to all at once (nameko finishes running workers), then wait."""
        with self._lock:
            self._stopping = True  # a supervising loop stops restarting
            procs = list(self.procs.items())
        for _, proc in procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for key, _ in reversed(procs):
            # signalled above: a second SIGTERM could interrupt nameko's graceful stop
            self._stop_process(key, sig=None)

    # -- supervision (opt-in: tests kill and restart processes themselves) ----------
    def supervise(self, stop: threading.Event | None = None,
                  policy: RestartPolicy = RestartPolicy(), poll: float = 0.5,
                  say: Callable[[str], None] = _say):
        """Restart every process that exits on its own, with backoff, until `stop` is set
        or `stop()` is called. Processes taken away with `stop_service` stay stopped."""
        stop = stop or threading.Event()
        next_delay: dict[str, float] = {}
        due: dict[str, tuple[float, subprocess.Popen]] = {}  # key -> (restart at, dead proc)
        while not stop.is_set() and not self._stopping:
            now = time.monotonic()
            for key, proc in list(self.procs.items()):
                if key in due or proc.poll() is None:
                    continue
                if now - self._started_at.get(key, now) >= policy.reset_after:
                    next_delay[key] = policy.initial
                delay = next_delay.get(key, policy.initial)
                next_delay[key] = min(delay * 2, policy.maximum)
                due[key] = (now + delay, proc)
                say(f"{key} exited with code {proc.returncode}; restarting in {delay:g}s "
                    f"(log: {_shown(self.log_path(key))})")
            for key, (at, dead) in list(due.items()):
                if at <= now:
                    del due[key]
                    self._restart(key, dead, say)
            stop.wait(poll)

    def _restart(self, key: str, dead: subprocess.Popen, say: Callable[[str], None]):
        with self._lock:
            if self._stopping or self.procs.get(key) is not dead:
                return  # stopped or replaced by someone else meanwhile
            with open(self.log_path(key), "ab") as log:
                log.write(f"--- restarted by the stack after exit code "
                          f"{dead.returncode} ---\n".encode())
            argv, cwd = self._commands[key]
            proc = self._spawn(key, argv, cwd)
        say(f"{key} restarted (pid {proc.pid})")


def _shown(path: Path) -> str:
    """`path` relative to the working directory when it is below it (shorter to read)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


# -- the command line: run / up / down ------------------------------------------------

STATE_FILE = "stack.json"  # {"supervisor": pid, "ready": bool, "url": ..., "children": {key: pid}}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is dead too (nobody may be reaping an orphan's children here)
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _read_state(var: Path) -> dict | None:
    try:
        state = json.loads((var / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    if "children" not in state:  # written by an older `up`: {name: pid}
        state = {"children": state}
    return state


def _write_state(var: Path, stack: Stack, ready: bool) -> None:
    state = {"supervisor": os.getpid(), "ready": ready,
             "url": stack.url if stack.gateway else None,
             "first_login": stack.first_login,
             "children": {key: proc.pid for key, proc in stack.procs.items()}}
    tmp = var / f".{STATE_FILE}.{os.getpid()}"
    tmp.write_text(json.dumps(state))
    tmp.replace(var / STATE_FILE)  # readers never see half a file


def _running_supervisor(var: Path) -> int | None:
    state = _read_state(var)
    pid = state and state.get("supervisor")
    return pid if pid and _alive(pid) else None


def _supervised(stack: Stack, ready: Callable[[], None],
                say: Callable[[str], None] = _say) -> int:
    """Start the stack, supervise it until SIGTERM or Ctrl-C, stop it. Exit status."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `down` == Ctrl-C
    stack.on_spawn = lambda *_: _write_state(stack.var, stack, ready=False)
    _write_state(stack.var, stack, ready=False)
    status = 0
    try:
        stack.start()
        _write_state(stack.var, stack, ready=True)
        stack.on_spawn = lambda *_: _write_state(stack.var, stack, ready=True)
        ready()
        stack.supervise(say=say)
    except KeyboardInterrupt:
        pass
    except Exception as exc:  # noqa: BLE001 - say why and stop what did start
        say(f"could not start: {exc}")
        status = 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        say("stopping")
        stack.stop()
        (stack.var / STATE_FILE).unlink(missing_ok=True)
    return status


def _print_urls(stack: Stack, url: str | None) -> None:
    lines = ["CRM is running."]
    if url:
        lines += [f"  gateway:  {url}/", f"  API docs: {url}/api/docs"]
        if stack.first_login:
            lines += [f"  {stack.first_login}"]
    lines += [f"  logs:     {_shown(stack.logs)}/"]
    print("\n".join(lines), flush=True)


def _up(stack: Stack, options: list[str], timeout: float = 300) -> int:
    """Start a detached supervisor (`supervise`) and wait until it says the stack is ready."""
    log_path = stack.log_path("stack")
    with open(log_path, "ab") as log:
        supervisor = subprocess.Popen(
            [stack.python, "-m", "crm_common.stack", "supervise", *options], cwd=stack.root,
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = _read_state(stack.var) or {}
        if state.get("supervisor") == supervisor.pid and state.get("ready"):
            stack.first_login = state.get("first_login")  # the supervisor worked it out
            _print_urls(stack, state.get("url"))
            print(f"  restarts: {_shown(log_path)}\n`make down` stops it.")
            return 0
        if supervisor.poll() is not None:
            print(f"could not start; see {_shown(log_path)}:\n{stack.tail('stack', 20)}",
                  file=sys.stderr)
            return 1
        time.sleep(0.3)
    print(f"not ready in {timeout}s; stopping it (see {_shown(log_path)})", file=sys.stderr)
    _down(stack.var)
    return 1


def _down(var: Path, timeout: float = STOP_TIMEOUT + 15) -> int:
    """Stop the supervisor (which stops its children); kill recorded children it left."""
    state = _read_state(var)
    if state is None:
        print(f"nothing is running (no {var / STATE_FILE})")
        return 0
    supervisor = state.get("supervisor")
    if supervisor and _alive(supervisor):
        os.kill(supervisor, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(supervisor) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _alive(supervisor):
            print(f"the supervisor ({supervisor}) did not stop in {timeout}s; killing it")
            os.kill(supervisor, signal.SIGKILL)
    # the supervisor may be gone (killed, crashed): what it recorded must not outlive it
    left = {key: pid for key, pid in state.get("children", {}).items() if _ours(pid)}
    for pid in left.values():
        _killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    for key, pid in left.items():
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _alive(pid):
            _killpg(pid, signal.SIGKILL)
        print(f"stopped {key} ({pid}), which the supervisor left running")
    (var / STATE_FILE).unlink(missing_ok=True)
    print("stopped")
    return 0


def _ours(pid: int) -> bool:
    """Alive and still the leader of its own process group, as the stack started it (a
    recycled pid almost never is)."""
    try:
        return _alive(pid) and os.getpgid(pid) == pid
    except ProcessLookupError:
        return False


def _killpg(pid: int, sig) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


def main(argv=None):
    parser = argparse.ArgumentParser(description="Run the CRM locally")
    parser.add_argument("command", choices=["run", "up", "down", "supervise"],
                        help="supervise: what `up` runs in the background")
    parser.add_argument("--fake-ares", action="store_true",
                        help="serve recorded ARES answers instead of the real register")
    parser.add_argument("--services", default=",".join(SERVICES),
                        help="comma-separated services to start (default: all)")
    parser.add_argument("--no-gateway", action="store_true", help="start no gateway")
    args = parser.parse_args(argv)
    services = [s for s in args.services.split(",") if s]
    unknown = set(services) - set(SERVICES)
    if unknown:
        parser.error(f"unknown services: {', '.join(sorted(unknown))}")
    fake_ares = args.fake_ares and "ares" in services
    stack = Stack(services=services, gateway=not args.no_gateway, fake_ares=fake_ares)
    if args.command == "down":
        sys.exit(_down(stack.var))
    running = _running_supervisor(stack.var)
    if running:
        sys.exit(f"the stack is already running (pid {running}); `make down` stops it")
    left = [pid for pid in ((_read_state(stack.var) or {}).get("children") or {}).values()
            if _ours(pid)]
    if left:
        sys.exit(f"processes of an earlier stack are still running (pids "
                 f"{', '.join(map(str, left))}); `make down` stops them")
    if args.command == "up":
        options = ["--services", ",".join(services)] + ["--fake-ares"] * fake_ares \
            + ["--no-gateway"] * args.no_gateway
        sys.exit(_up(stack, options))
    if args.command == "supervise":
        sys.exit(_supervised(stack, lambda: _say_with_time("ready"), _say_with_time))

    def ready():
        _print_urls(stack, stack.url if stack.gateway else None)
        print("Crashed processes are restarted. Ctrl-C stops everything.", flush=True)
    sys.exit(_supervised(stack, ready))


if __name__ == "__main__":
    main()
