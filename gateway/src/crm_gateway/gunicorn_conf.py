"""gunicorn's settings for the gateway, from the environment:

    gunicorn -c python:crm_gateway.gunicorn_conf crm_gateway.wsgi:app

(`make run`/`make up`, the image, compose and Kubernetes all run this). Anything else of
gunicorn's can still be given on the command line or in `GUNICORN_CMD_ARGS`, which win over
this file.

- `GATEWAY_HOST`, `GATEWAY_PORT` (127.0.0.1, 8080; the image 0.0.0.0): where it listens
- `GATEWAY_WORKERS` (1): processes; each runs its requests' Python on at most one core, so
  one per core the gateway has to itself (a pod's CPU limit); scale out with replicas
- `GATEWAY_WORKER_CLASS` (gthread): gthread (threads) or gevent (greenlets; needs gevent)
- `GATEWAY_THREADS` (16): gthread: the requests one process serves at once
- `GATEWAY_WORKER_CONNECTIONS` (1000): client connections one process keeps open, keep-alive
  ones too; gevent serves them all at once
- `GATEWAY_TIMEOUT` (30): seconds a silent worker lives before the master replaces it
- `GATEWAY_GRACEFUL_TIMEOUT` (10): seconds the requests in flight get after SIGTERM
- `GATEWAY_KEEPALIVE` (5): seconds an idle keep-alive connection stays open

Each process has its own RPC pool, bounded by `GATEWAY_RPC_CONNECTIONS` (64): a request
holds one broker connection per call in flight, and a fan-out (the client card) up to 8 more
from the pool's shared fan-out threads. With gthread keep THREADS + 8 at or below it; with
gevent nothing but that bound limits the requests in flight, and the ones past it wait for a
connection (503 after their deadline). See docs/operations.md.
"""
import json
import os

from gunicorn import glogging, util

from crm_common.context import LOG_FORMAT, CorrelationFilter, OneLineFormatter


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


wsgi_app = "crm_gateway.wsgi:app"
bind = [f"{os.environ.get('GATEWAY_HOST') or '127.0.0.1'}:"
        f"{_int('GATEWAY_PORT', 8080)}"]
worker_class = os.environ.get("GATEWAY_WORKER_CLASS") or "gthread"
# one process of 16 threads: measured against two of 8 (docs/benchmarks.md, "The gateway
# under HTTP load"), it answers more on the same cores, because two processes take turns
# on the cores its services and the broker need
workers = _int("GATEWAY_WORKERS", 1)
threads = _int("GATEWAY_THREADS", 16)
worker_connections = _int("GATEWAY_WORKER_CONNECTIONS", 1000)
timeout = _int("GATEWAY_TIMEOUT", 30)
# the stack (make run, the tests) kills what is still running 15 s after SIGTERM
graceful_timeout = _int("GATEWAY_GRACEFUL_TIMEOUT", 10)
keepalive = _int("GATEWAY_KEEPALIVE", 5)
# the longest request line (method, path and query): gunicorn's most; a longer one is a 414
# from gunicorn itself, before the API
limit_request_line = _int("GATEWAY_LIMIT_REQUEST_LINE", 8190)
# the app writes its own access line (crm_gateway.access, with the correlation id);
# gunicorn's would be a second one, formatted on every request
accesslog = None
errorlog = "-"
loglevel = (os.environ.get("LOG_LEVEL") or "info").lower()


class Logger(glogging.Logger):
    """gunicorn's own lines (starts, worker boots and exits) in the one-line format of
    every other log line (crm_common.context.setup_logging)."""

    def setup(self, cfg):
        super().setup(cfg)
        for handler in self.error_log.handlers:
            handler.setFormatter(OneLineFormatter(LOG_FORMAT))
            handler.addFilter(CorrelationFilter())


logger_class = Logger


def write_problem(sock, status_int, reason, mesg):
    """gunicorn's own refusals (a malformed header, a request line past its limit: before
    the app runs) as problem details like every other error, not gunicorn's HTML page."""
    body = json.dumps({"type": "about:blank", "title": reason, "status": status_int,
                       "detail": mesg or reason}).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
            f"Content-Type: application/problem+json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode("latin1")
    util.write_nonblock(sock, head + body)


# the workers answer these through `util.write_error` (gunicorn.workers.base.handle_error)
util.write_error = write_problem
# no `gunicornc` socket: the stack and the orchestrators drive it with signals, and several
# gateways (tests, benchmarks) on one machine would share its default path
control_socket_disable = True
proc_name = "crm-gateway"


def worker_exit(server, worker):
    """Close the worker's broker connections politely (the broker deletes their reply
    queues at once instead of noticing a dropped socket)."""
    app = getattr(worker, "wsgi", None)
    pool = getattr(app, "extensions", {}).get("crm_rpc") if app is not None else None
    close = getattr(pool, "close", None)
    if close is not None:
        try:
            close()
        except Exception:  # noqa: BLE001 - exiting anyway
            server.log.warning("closing the RPC pool failed", exc_info=True)
