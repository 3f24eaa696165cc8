"""Configuration from the environment, with the defaults DESIGN.md fixes."""
import os
from pathlib import Path

DEFAULT_AMQP_URI = "amqp://guest:guest@localhost:5672/"


def amqp_uri() -> str:
    return os.environ.get("AMQP_URI") or DEFAULT_AMQP_URI


def var_dir() -> Path:
    """Where SQLite files, logs and pids live when nothing else is configured."""
    path = Path(os.environ.get("CRM_VAR_DIR") or Path.cwd() / "var")
    path.mkdir(parents=True, exist_ok=True)
    return path


def database_url(service: str) -> str:
    """`<SERVICE>_DATABASE_URL`, else an SQLite file under var/."""
    url = os.environ.get(f"{service.upper()}_DATABASE_URL")
    return url or f"sqlite:///{var_dir() / (service + '.db')}"


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


def amqp_heartbeat() -> int:
    """Seconds between AMQP heartbeats (0 turns them off): half-open connections are found,
    and the broker drops the connections (and reply queues) of a process that vanished."""
    return int(env_float("AMQP_HEARTBEAT", 30))


def amqp_timeout() -> float:
    """The bound on any single broker operation (connect, declare, publish confirm, close):
    a broker that keeps the socket open but stops answering must not block us forever."""
    return env_float("AMQP_TIMEOUT", 10.0)
