"""The queries of the client register, so handlers speak of clients, not of sessions."""
import uuid
from datetime import datetime

from sqlalchemy import insert, select

from crm_common.errors import NotFound
from crm_common.pagination import newest_first

from .domain import Client
from .orm import client_history, clients

ARCHIVED_FILTERS = ("false", "true", "only")  # ?archived=: leave out, include, only


class Clients:
    def __init__(self, session):
        self.session = session

    def get(self, client_id: str) -> Client:
        client = self.session.get(Client, client_id)
        if client is None:
            raise NotFound(f"client {client_id} does not exist")
        return client

    def find(self, client_id: str | None = None, ico: str | None = None) -> list[Client]:
        """The client with `client_id`, else every client with the IČO."""
        if client_id:
            client = self.session.get(Client, client_id)
            return [client] if client else []
        return list(self.session.scalars(select(Client).where(clients.c.ico == ico)))

    def page(self, limit, cursor, ico: str | None = None, archived: str = "false", dump=None
             ) -> dict:
        """Newest first, keyset-paginated: a cursor stays valid while clients are added."""
        query = select(Client)
        if ico:
            query = query.where(clients.c.ico == ico)
        if archived == "false":
            query = query.where(clients.c.archived_at.is_(None))
        elif archived == "only":
            query = query.where(clients.c.archived_at.is_not(None))
        return newest_first(self.session, query, clients.c.created_at, clients.c.id, limit,
                            cursor, dump, key=lambda client: (client.created_at, client.id))

    # -- history --------------------------------------------------------------------

    def record(self, client: Client, action: str, changes: dict, actor: str | None,
               at: datetime) -> None:
        self.record_many([history_row(client.id, action, changes, actor, at,
                                      client.version)])

    def record_many(self, rows: list[dict]) -> None:
        if rows:
            self.session.execute(insert(client_history), rows)

    def history(self, client_id: str, limit, cursor, dump) -> dict:
        self.get(client_id)  # NotFound for a client that never existed
        columns = client_history.c
        query = select(client_history).where(columns.client_id == client_id)
        return newest_first(self.session, query, columns.at, columns.id, limit, cursor,
                            lambda row: dump(row._mapping), key=lambda row: (row.at, row.id),
                            rows=lambda q: self.session.execute(q).all())


def history_row(client_id: str, action: str, changes: dict, actor: str | None,
                at: datetime, version: int | None) -> dict:
    return {"id": str(uuid.uuid4()), "client_id": client_id, "at": at, "actor": actor,
            "action": action, "changes": changes, "version": version}
