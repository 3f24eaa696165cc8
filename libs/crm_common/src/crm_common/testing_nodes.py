"""A private RabbitMQ node and a private PostgreSQL cluster for fault tests.

A fault test kills, restarts or alarms these, never the machine's shared broker and database.
Each lives in its own temporary directory on its own free ports and is removed by `close()`
(also at interpreter exit, so an interrupted run leaves no servers behind).

    with PrivateRabbit() as rabbit:            # start() waits until AMQP logins work
        rabbit.kill(); rabbit.start()          # SIGKILL of the Erlang VM; data dir kept
    with PrivatePostgres() as pg:
        url = pg.create_database("clients")
        pg.restart(mode="immediate")           # crash-like: recovery from the WAL

`CRM_KEEP_PRIVATE_NODES=1` keeps their directories (data and logs) for a post-mortem.
Run as root, the servers run as the `rabbitmq` / `postgres` system users (both refuse root
or need their own files); otherwise as the current user. Binaries are looked up in the usual
Debian places and on PATH; `RABBITMQ_SBIN` / `PG_BINDIR` override that.
"""
from __future__ import annotations

import atexit
import logging
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import weakref
from pathlib import Path

from .stack import free_port

log = logging.getLogger(__name__)

_live: "weakref.WeakSet[_Server]" = weakref.WeakSet()


class NodeUnavailable(RuntimeError):
    """The server software (or its system user) is not installed here."""


class NodeError(RuntimeError):
    """The server did not start, stop or obey; the message carries its log's tail."""


def _run_as(user: str) -> pwd.struct_passwd | None:
    """The account to run a server as: `user` when we are root, else ourselves (None)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(user)
    except KeyError:
        raise NodeUnavailable(f"running as root, but there is no '{user}' user to run "
                              f"the server as") from None


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"  # zombies are dead
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


class _Server:
    """A server process in its own session (so one signal reaches all its processes), run as
    a given account, in a temporary directory that account owns."""

    user = ""
    kind = "server"

    def __init__(self, start_timeout: float):
        self.account = _run_as(self.user)
        self.start_timeout = start_timeout
        self.dir = Path(tempfile.mkdtemp(prefix=f"crm-{self.kind}-"))
        os.chmod(self.dir, 0o700)
        self._chown(self.dir)
        self.log_path = self.dir / "server.log"
        self.proc: subprocess.Popen | None = None
        self.start_seconds: list[float] = []  # how long each start took (for reports)
        _live.add(self)

    def _chown(self, path: Path) -> None:
        if self.account:
            os.chown(path, self.account.pw_uid, self.account.pw_gid)

    def _write(self, name: str, text: str, mode: int = 0o600) -> Path:
        path = self.dir / name
        path.write_text(text)
        os.chmod(path, mode)
        self._chown(path)
        return path

    def _popen(self, argv: list[str], env: dict, **kwargs) -> subprocess.Popen:
        user = {} if self.account is None else {
            "user": self.account.pw_uid, "group": self.account.pw_gid, "extra_groups": []}
        return subprocess.Popen(argv, env=env, cwd=self.dir, stdin=subprocess.DEVNULL,
                                **user, **kwargs)

    def _run(self, argv: list[str], env: dict, timeout: float) -> str:
        proc = self._popen(argv, env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise NodeError(f"{' '.join(argv)} did not finish in {timeout}s") from None
        if proc.returncode:
            raise NodeError(f"{' '.join(argv)} failed ({proc.returncode}):\n{out}")
        return out

    def _spawn(self, argv: list[str], env: dict) -> None:
        with open(self.log_path, "ab") as log_file:
            self.proc = self._popen(argv, env, stdout=log_file, stderr=subprocess.STDOUT,
                                    start_new_session=True)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _wait_ready(self, ready, started: float) -> None:
        deadline = started + self.start_timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if not self.running:
                raise NodeError(f"{self.kind} exited with {self.proc.returncode} while "
                                f"starting; {self.log_path}:\n{_tail(self.log_path)}")
            try:
                ready()
                elapsed = time.monotonic() - started
                self.start_seconds.append(elapsed)
                log.info("%s started in %.1fs", self, elapsed)
                return
            except Exception as exc:  # noqa: BLE001 - not accepting yet
                last = exc
            time.sleep(0.2)
        self._signal_group(signal.SIGKILL)
        raise NodeError(f"{self.kind} did not accept connections in {self.start_timeout}s "
                        f"(last: {last!r}); {self.log_path}:\n{_tail(self.log_path)}")

    def _signal_group(self, sig: int) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def _wait_exit(self, timeout: float) -> bool:
        try:
            self.proc.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    def close(self) -> None:
        """Stop (killing if it will not stop) and remove every file."""
        try:
            if self.running:
                try:
                    self.stop()
                except Exception:  # noqa: BLE001 - closing must not fail half-way
                    log.exception("could not stop %s cleanly; killing it", self)
                    self.kill()
        finally:
            if os.environ.get("CRM_KEEP_PRIVATE_NODES"):  # for a post-mortem of its logs
                log.warning("%s: kept %s (CRM_KEEP_PRIVATE_NODES)", self, self.dir)
            else:
                shutil.rmtree(self.dir, ignore_errors=True)
            _live.discard(self)

    def stop(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def kill(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


def _rabbit_sbin() -> Path:
    candidates = [os.environ.get("RABBITMQ_SBIN"), "/usr/lib/rabbitmq/bin"]
    on_path = shutil.which("rabbitmq-server")
    if on_path:
        candidates.append(str(Path(on_path).resolve().parent))
    for candidate in filter(None, candidates):
        if (Path(candidate) / "rabbitmq-server").exists():
            return Path(candidate)
    raise NodeUnavailable("RabbitMQ is not installed (no rabbitmq-server in "
                          "/usr/lib/rabbitmq/bin or on PATH; set RABBITMQ_SBIN)")


class PrivateRabbit(_Server):
    """A RabbitMQ node of our own: `crm-fault-<hex>@localhost`, own AMQP and distribution
    ports, own Erlang cookie, data and logs, no plugins."""

    user = "rabbitmq"
    kind = "rabbit"

    def __init__(self, start_timeout: float = 90):
        self.sbin = _rabbit_sbin()
        super().__init__(start_timeout)
        self.node = f"crm-fault-{secrets.token_hex(4)}@localhost"
        self.port = free_port()
        self.dist_port = free_port()
        for sub in ("mnesia", "log"):
            (self.dir / sub).mkdir()
            self._chown(self.dir / sub)
        self._write("rabbitmq.conf", f"listeners.tcp.1 = 127.0.0.1:{self.port}\n"
                                     "loopback_users.guest = true\n")
        self._write("rabbitmq-env.conf", "")  # so the machine's (node name, port) is not read
        self._write("enabled_plugins", "[].\n")
        self._write(".erlang.cookie", secrets.token_hex(16).upper(), mode=0o400)
        self.pid_file = self.dir / "beam.pid"
        self.env = {
            "PATH": os.environ.get("PATH", "") + os.pathsep + "/usr/bin:/bin",
            "HOME": str(self.dir),  # the cookie: rabbitmqctl reaches only this node
            "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONF_ENV_FILE": str(self.dir / "rabbitmq-env.conf"),
            "RABBITMQ_CONFIG_FILE": str(self.dir / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.dir / "advanced.config"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.dir / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(self.dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.dir / "log"),
            "RABBITMQ_PID_FILE": str(self.pid_file),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS":
                "-kernel inet_dist_use_interface {127,0,0,1}",
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }

    def __repr__(self) -> str:
        return f"PrivateRabbit({self.node}, amqp port {self.port})"

    @property
    def amqp_uri(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def start(self) -> "PrivateRabbit":
        if self.running:
            return self
        self.pid_file.unlink(missing_ok=True)
        started = time.monotonic()
        self._spawn([str(self.sbin / "rabbitmq-server")], self.env)
        self._wait_ready(self._login, started)
        return self

    def _login(self) -> None:
        import pika
        # the listener opens at the end of the boot; until then do not let pika log failures
        socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        params = pika.URLParameters(self.amqp_uri + "?connection_attempts=1&socket_timeout=2"
                                    "&blocked_connection_timeout=2")
        pika.BlockingConnection(params).close()

    def beam_pid(self) -> int | None:
        """The Erlang VM's pid (the server script runs it as a child, not with exec)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            pid = None
        if pid and _alive(pid):
            return pid
        # the pid file is written late in the boot: before that, look in our process group
        return _beam_in_group(self.proc.pid) if self.proc is not None else None

    def kill(self) -> None:
        """SIGKILL to the Erlang VM and everything else of the node: a crash, no shutdown."""
        if self.proc is None:
            return
        beam = self.beam_pid()
        if beam:
            os.kill(beam, signal.SIGKILL)
        self._signal_group(signal.SIGKILL)
        self.proc.wait(10)
        deadline = time.monotonic() + 10
        while beam and _alive(beam):
            if time.monotonic() > deadline:
                raise NodeError(f"the Erlang VM {beam} of {self} survived SIGKILL")
            time.sleep(0.05)

    def stop(self, timeout: float = 30) -> None:
        """A clean shutdown (SIGTERM: the server script stops the node gracefully)."""
        if not self.running:
            return
        beam = self.beam_pid()
        self._signal_group(signal.SIGTERM)
        if not self._wait_exit(timeout) or (beam and _alive(beam)):
            log.warning("%s did not stop in %ss; killing it", self, timeout)
            self.kill()

    def restart(self, kill: bool = True) -> "PrivateRabbit":
        """Kill (or stop) and start again on the same ports and data: durable queues and
        persistent messages are back."""
        if kill:
            self.kill()
        else:
            self.stop()
        return self.start()

    def rabbitmqctl(self, *args: str, timeout: float = 60) -> str:
        return self._run([str(self.sbin / "rabbitmqctl"), "-n", self.node, *args],
                         self.env, timeout)

    def raise_memory_alarm(self) -> None:
        """Watermark 0: the node is over it at once and blocks every publishing connection."""
        self.rabbitmqctl("set_vm_memory_high_watermark", "0")

    def clear_memory_alarm(self, watermark: str = "0.4") -> None:
        self.rabbitmqctl("set_vm_memory_high_watermark", watermark)


def _beam_in_group(pgid: int) -> int | None:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) == pgid and \
                    (entry / "comm").read_text().startswith("beam"):
                return int(entry.name)
        except (ProcessLookupError, FileNotFoundError, PermissionError):
            continue
    return None


def _pg_bindir() -> Path:
    candidates = [os.environ.get("PG_BINDIR")]
    if shutil.which("pg_config"):
        try:
            candidates.append(subprocess.run(["pg_config", "--bindir"], capture_output=True,
                                             text=True, timeout=10).stdout.strip())
        except (OSError, subprocess.SubprocessError):
            pass
    candidates += sorted((str(p) for p in Path("/usr/lib/postgresql").glob("*/bin")),
                         key=lambda p: int(Path(p).parent.name) if
                         Path(p).parent.name.isdigit() else 0, reverse=True)
    if shutil.which("initdb"):
        candidates.append(str(Path(shutil.which("initdb")).parent))
    for candidate in filter(None, candidates):
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "postgres").exists():
            return Path(candidate)
    raise NodeUnavailable("PostgreSQL server binaries not found (initdb, postgres; "
                          "looked at pg_config --bindir, /usr/lib/postgresql/*/bin, PATH; "
                          "set PG_BINDIR)")


class PrivatePostgres(_Server):
    """A PostgreSQL cluster of our own: initdb into a temporary directory, a free TCP port on
    loopback, its socket in that directory, user `postgres` trusted.

    fsync is off (fast), which loses nothing when only the server dies: everything committed
    has been written to the operating system, and a crash or immediate restart recovers it
    from the WAL. It would not survive the machine losing power, which no test does.
    """

    user = "postgres"
    kind = "postgres"

    def __init__(self, start_timeout: float = 60):
        self.bindir = _pg_bindir()
        super().__init__(start_timeout)
        self.port = free_port()
        self.data = self.dir / "data"
        self.env = {"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
                    "HOME": str(self.dir)}

    def __repr__(self) -> str:
        return f"PrivatePostgres(port {self.port})"

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{dbname}"

    def _dsn(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def start(self) -> "PrivatePostgres":
        if self.running:
            return self
        started = time.monotonic()
        if not (self.data / "PG_VERSION").exists():
            self._run([str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres",
                       "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"],
                      self.env, timeout=120)
        self._spawn([str(self.bindir / "postgres"), "-D", str(self.data),
                     "-p", str(self.port), "-k", str(self.dir),
                     "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
                     "-c", "max_connections=300", "-c", "logging_collector=off"], self.env)
        self._wait_ready(self._connect, started)
        return self

    def _connect(self) -> None:
        import psycopg2
        psycopg2.connect(self._dsn(), connect_timeout=2).close()

    def create_database(self, name: str) -> str:
        """CREATE DATABASE `name`; returns its SQLAlchemy URL."""
        import psycopg2
        conn = psycopg2.connect(self._dsn(), connect_timeout=5)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()
        return self.url(name)

    # SIGINT: fast shutdown (clients cut off, checkpoint); SIGQUIT: immediate (no checkpoint,
    # recovery from the WAL at the next start, as after a crash)
    _MODES = {"smart": signal.SIGTERM, "fast": signal.SIGINT, "immediate": signal.SIGQUIT}

    def stop(self, mode: str = "fast", timeout: float = 30) -> None:
        if mode not in self._MODES:
            raise ValueError(f"mode must be one of {sorted(self._MODES)}")
        if not self.running:
            return
        self.proc.send_signal(self._MODES[mode])
        if not self._wait_exit(timeout):
            log.warning("%s did not stop (%s) in %ss; killing it", self, mode, timeout)
            self.kill()
        self._wait_group_gone()

    def kill(self) -> None:
        """SIGKILL to the postmaster and every backend at once: a crash."""
        if self.proc is None:
            return
        self._signal_group(signal.SIGKILL)
        self.proc.wait(10)
        self._wait_group_gone()

    def _wait_group_gone(self, timeout: float = 10) -> None:
        # a backend still alive keeps the shared memory: the next postmaster would refuse
        deadline = time.monotonic() + timeout
        while _group_alive(self.proc.pid):
            if time.monotonic() > deadline:
                raise NodeError(f"processes of {self} survived its stop")
            time.sleep(0.05)

    def restart(self, mode: str = "fast") -> "PrivatePostgres":
        self.stop(mode)
        return self.start()


def _group_alive(pgid: int) -> bool:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) == pgid and _alive(int(entry.name)):
                    return True
            except ProcessLookupError:
                continue
    return False


@atexit.register
def _close_all() -> None:
    for server in list(_live):
        try:
            server.close()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass
