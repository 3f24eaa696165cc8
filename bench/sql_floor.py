"""The floor of a read through the gateway: the SQL the clients service runs for it, taken
from the service's own code (its handlers, run here in-process on the same database with
the arguments the gateway would send), then run directly with psycopg2 and timed: what
the database alone takes, with nothing of RPC, nameko, marshmallow or HTTP around it."""
import time
from dataclasses import dataclass
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import psycopg2
from sqlalchemy import event
from sqlalchemy.orm import Session

from crm_common.access import SYSTEM
from crm_common.db import make_engine

from clients_service import handlers

from .client_loader import dsn

EXPORT_PAGE = 500  # the gateway's export.PAGE: clients per RPC while exporting


@dataclass
class Statements:
    """What one request runs: (SQL, parameters) in order."""
    path: str
    sql: list[tuple[str, dict]]
    total: int | None = None  # the answer's `total`, when it was asked for


class Capture:
    """Runs the service's handlers on `url` and keeps every statement they send."""

    def __init__(self, url: str):
        self.engine = make_engine(url)
        with self.engine.connect():
            pass  # the dialect's first-connect queries are not the request's
        self._taken: list[tuple[str, dict]] | None = None
        event.listen(self.engine, "before_cursor_execute", self._record)

    def _record(self, _conn, _cursor, statement, parameters, _context, _many):
        if self._taken is not None:
            self._taken.append((statement, dict(parameters or {})))

    def run(self, call) -> tuple[list[tuple[str, dict]], object]:
        """(the statements of `call(uow)`, its answer)."""
        self._taken = []
        try:
            with Session(self.engine) as session:
                uow = SimpleNamespace(session=session, context=SimpleNamespace(
                    caller=SYSTEM, actor=None))
                answer = call(uow)
                session.rollback()
            return self._taken, answer
        finally:
            self._taken = None

    def close(self):
        self.engine.dispose()


def _query(path: str, export: bool = False) -> tuple[dict, dict, object]:
    """(the parsed query, the raw arguments, the schema) of a gateway URL, read by the
    gateway's own query schema."""
    from crm_gateway.client_queries import ClientExportQuerySchema, ClientListQuerySchema
    schema = ClientExportQuerySchema() if export else ClientListQuerySchema()
    args = {key: values if key in ("tag", "columns") else values[0]
            for key, values in parse_qs(urlsplit(path).query).items()}
    return schema.load(args), args, schema


def list_arguments(path: str) -> dict:
    """The arguments of the clients service's `list` for a URL of the list, as the gateway
    sends them (blueprints/clients.py, `list_clients`)."""
    query, args, schema = _query(path)
    return {"limit": query["limit"], "cursor": query.get("cursor"), "ico": query.get("ico"),
            "archived": query["archived"], "q": query.get("q"),
            "filters": schema.filters(query, args), "sort": query.get("sort"),
            "include_total": query["include_total"]}


def export_arguments(path: str) -> dict:
    """Those of each page of an export (`export_clients`)."""
    from crm_gateway import export
    query, args, schema = _query(path, export=True)
    return {"ico": query.get("ico"), "archived": query["archived"], "q": query.get("q"),
            "filters": schema.filters(query, args), "sort": query.get("sort") or "-created_at",
            "fields": export.fields_of(query.get("columns") or export.DEFAULT_COLUMNS)}


def list_statements(capture: Capture, path: str) -> Statements:
    kwargs = list_arguments(path)
    sql, page = capture.run(lambda uow: handlers.list_clients(uow, **kwargs))
    return Statements(path, sql, page.get("total"))


def duplicate_statements(capture: Capture, path: str) -> Statements:
    query = {key: values[0] for key, values in parse_qs(urlsplit(path).query).items()}
    sql, _ = capture.run(lambda uow: handlers.duplicate_report(
        uow, int(query.get("limit", 50)), query.get("cursor")))
    return Statements(path, sql)


def export_statements(capture: Capture, path: str) -> tuple[Statements, int]:
    """Every statement of an export (its check for a 422, then each page of `EXPORT_PAGE`
    newest first, as the gateway asks for them), and the number of clients exported."""
    kwargs = export_arguments(path)
    sql, _ = capture.run(lambda uow: handlers.list_clients(uow, **dict(kwargs, limit=1)))
    cursor, exported = None, 0
    while True:
        page_sql, page = capture.run(lambda uow: handlers.list_clients(
            uow, **dict(kwargs, limit=EXPORT_PAGE, cursor=cursor)))
        sql += page_sql
        exported += len(page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            return Statements(path, sql), exported


class Floor:
    """The captured statements run directly, each request's in turn, on one connection."""

    def __init__(self, url: str):
        self.connection = psycopg2.connect(dsn(url))
        self.connection.autocommit = True

    def seconds(self, statements: Statements) -> float:
        started = time.perf_counter()
        with self.connection.cursor() as cursor:
            for sql, parameters in statements.sql:
                cursor.execute(sql, parameters)
                if cursor.description is not None:
                    cursor.fetchall()
        return time.perf_counter() - started

    def latencies_ms(self, requests: list[Statements], repeats: int) -> list[float]:
        """Every request `repeats` times, one after the other; sorted."""
        return sorted(1000 * self.seconds(request) for _ in range(repeats)
                      for request in requests)

    def close(self):
        self.connection.close()
