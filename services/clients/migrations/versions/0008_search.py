"""search: a folded text per client (name, IČO, DIČ, e-mails, phones, contact persons),
searched by SQLite's FTS5 or PostgreSQL's pg_trgm; folded name and city for sort and filter

Existing clients get their derived columns computed here.

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

from clients_service import search_index
from clients_service.search import derived

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("search_text", sa.Text()))
        batch.add_column(sa.Column("name_folded", sa.String(255)))
        batch.add_column(sa.Column("city", sa.String(120)))
    op.create_index("ix_clients_updated", "clients", ["updated_at", "id"])
    op.create_index("ix_clients_name_folded", "clients", ["name_folded", "id"])
    op.create_index("ix_clients_city", "clients", ["city"])
    op.create_index("ix_clients_owner", "clients", ["owner_id"])
    _backfill(op.get_bind())
    search_index.create(op.get_bind())


def _backfill(connection):
    clients = sa.table("clients", sa.column("id"), sa.column("name"), sa.column("ico"),
                       sa.column("dic"), sa.column("emails", sa.JSON()),
                       sa.column("phones", sa.JSON()),
                       sa.column("registered_address", sa.JSON()),
                       sa.column("contact_address", sa.JSON()), sa.column("search_text"),
                       sa.column("name_folded"), sa.column("city"))
    people: dict = {}
    for row in connection.execute(sa.text(
            "SELECT l.client_id, c.first_name, c.last_name FROM client_contacts l "
            "JOIN contacts c ON c.id = l.contact_id")):
        people.setdefault(row.client_id, []).append(
            " ".join(p for p in (row.first_name, row.last_name) if p))
    rows = connection.execute(sa.select(clients)).all()
    if rows:
        connection.execute(
            clients.update().where(clients.c.id == sa.bindparam("row_id")).values(
                search_text=sa.bindparam("st"), name_folded=sa.bindparam("nf"),
                city=sa.bindparam("ct")),
            [{"row_id": row.id, **dict(zip(("st", "nf", "ct"), derived(
                dict(row._mapping), people.get(row.id, ())).values()))} for row in rows])


def downgrade():
    search_index.drop(op.get_bind())
    for index in ("ix_clients_owner", "ix_clients_city", "ix_clients_name_folded",
                  "ix_clients_updated"):
        op.drop_index(index, table_name="clients")
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("city")
        batch.drop_column("name_folded")
        batch.drop_column("search_text")
