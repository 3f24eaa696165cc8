"""duplicate keys: the e-mails, phones and name (without its legal form) of each client,
looked up to warn of possible duplicates and to report them

Existing clients get their keys here.

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

from clients_service.search import duplicate_keys

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    keys = op.create_table(
        "client_keys",
        sa.Column("client_id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(10), primary_key=True),
        sa.Column("value", sa.String(255), primary_key=True))
    op.create_index("ix_client_keys_value", "client_keys", ["kind", "value"])
    clients = sa.table("clients", sa.column("id"), sa.column("name"),
                       sa.column("emails", sa.JSON()), sa.column("phones", sa.JSON()))
    rows = [{"client_id": row.id, "kind": kind, "value": value}
            for row in op.get_bind().execute(sa.select(clients))
            for kind, value in duplicate_keys(dict(row._mapping))]
    if rows:
        op.bulk_insert(keys, rows)


def downgrade():
    op.drop_index("ix_client_keys_value", table_name="client_keys")
    op.drop_table("client_keys")
