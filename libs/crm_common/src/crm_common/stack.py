"""Start, watch and stop the whole system as local processes (for `make run` and the tests).

    python -m crm_common.stack run [--fake-ares]   # foreground; Ctrl-C stops everything
    python -m crm_common.stack up  [--fake-ares]   # background; pids and logs under var/
    python -m crm_common.stack down

Every service runs as `nameko run` on its own database (SQLite under var/ unless
`<SERVICE>_DATABASE_URL` says otherwise); the gateway runs in front of them.
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

# name -> the nameko service class (named, so imported mixins are never taken for services)
SERVICES = {
    "clients": "clients_service.service:ClientsService",
    "deals": "deals_service.service:DealsService",
    "activities": "activities_service.service:ActivitiesService",
    "ares": "ares_service.service:AresService",
    "importer": "importer_service.service:ImporterService",
}


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


class Stack:
    def __init__(self, env: dict | None = None, var_dir: Path | None = None,
                 services=tuple(SERVICES), gateway: bool = True, fake_ares: bool = False,
                 gateway_port: int | None = None, root: Path | None = None):
        self.root = root or repo_root()
        self.var = Path(var_dir or os.environ.get("CRM_VAR_DIR") or self.root / "var")
        self.logs = self.var / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.env = dict(os.environ, **(env or {}))
        self.env.setdefault("CRM_VAR_DIR", str(self.var))
        self.env.setdefault("PYTHONUNBUFFERED", "1")
        self.services = list(services)
        self.gateway = gateway
        self.gateway_port = int(gateway_port or self.env.get("GATEWAY_PORT") or 8080)
        self.fake_ares = fake_ares
        self.procs: dict[str, subprocess.Popen] = {}
        self.python = sys.executable

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def _spawn(self, name: str, argv: list[str], cwd: Path | None = None):
        log = open(self.logs / f"{name}.log", "ab")
        self.procs[name] = subprocess.Popen(argv, cwd=cwd or self.root, env=self.env,
                                            stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        return self.procs[name]

    def migrate(self):
        for name in self.services:
            subprocess.run([self.python, "-m", "crm_common.migrate", "--queues",
                            f"services/{name}"],
                           cwd=self.root, env=self.env, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self, wait: float = 60):
        if self.fake_ares:
            port = free_port()
            self._spawn("fake-ares", [self.python, "-m", "ares_service.fake",
                                      "--host", "127.0.0.1", "--port", str(port)])
            self.env["ARES_BASE_URL"] = \
                f"http://127.0.0.1:{port}/ekonomicke-subjekty-v-be/rest"
        self.migrate()
        for name in self.services:
            self.start_service(name)
        if self.gateway:
            self.env["GATEWAY_PORT"] = str(self.gateway_port)
            self._spawn("gateway", [self.python, "-m", "crm_gateway"])
            self.wait_ready(wait)
        else:
            self.wait_services(wait)
        return self

    def start_service(self, name: str):
        return self._spawn(name, [self.python, "-m", "nameko", "run", "--config",
                                  f"services/{name}/config.yaml", SERVICES[name]])

    def stop_service(self, name: str, sig=signal.SIGTERM, timeout: float = 15):
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def wait_ready(self, timeout: float = 60):
        """Until /readyz says every service answers (or a process died)."""
        deadline = time.monotonic() + timeout
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
        raise RuntimeError(f"the stack did not get ready in {timeout}s: {last}")

    def wait_services(self, timeout: float = 60):
        """Until every started service answers its `health` RPC."""
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
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}; see "
                                   f"{self.logs / (name + '.log')}:\n{self.tail(name)}")

    def tail(self, name: str, lines: int = 40) -> str:
        path = self.logs / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) \
            if path.exists() else ""

    def stop(self):
        """SIGTERM to all at once (nameko finishes running workers), then wait."""
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for name in reversed(list(self.procs)):
            self.stop_service(name)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _pidfile(var: Path) -> Path:
    return var / "stack.json"


def main(argv=None):
    parser = argparse.ArgumentParser(description="Run the CRM locally")
    parser.add_argument("command", choices=["run", "up", "down"])
    parser.add_argument("--fake-ares", action="store_true",
                        help="serve recorded ARES answers instead of the real register")
    args = parser.parse_args(argv)
    stack = Stack(fake_ares=args.fake_ares)
    pidfile = _pidfile(stack.var)
    if args.command == "down":
        if not pidfile.exists():
            print("nothing is running (no var/stack.json)")
            return
        pids = json.loads(pidfile.read_text())
        for pid in pids.values():
            try:
                os.killpg(pid, signal.SIGTERM)  # nameko finishes the workers it runs
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 20
        for name, pid in pids.items():
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            if _alive(pid):
                os.killpg(pid, signal.SIGKILL)
            print(f"stopped {name} ({pid})")
        pidfile.unlink()
        return
    try:
        stack.start()
    except Exception as exc:
        stack.stop()
        sys.exit(f"could not start: {exc}")
    pidfile.write_text(json.dumps({n: p.pid for n, p in stack.procs.items()}))
    print(f"CRM is running.\n  gateway:  {stack.url}/\n  API docs: {stack.url}/api/docs\n"
          f"  logs:     {stack.logs}/")
    if args.command == "up":
        return
    print("Ctrl-C stops everything.")
    try:
        while all(p.poll() is None for p in stack.procs.values()):
            time.sleep(1)
        print("a process exited; stopping", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
        pidfile.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
