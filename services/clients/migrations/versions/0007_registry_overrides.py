"""registry overrides: the register's own values kept beside the user's

Existing clients have no override; the register's values of a client already enriched
are taken from its current fields (they are the register's until a user overrides one).

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

REGISTRY_FIELDS = ("name", "dic", "vat_payer", "vat_group_dic", "legal_form",
                   "legal_form_name", "nace", "registered_address", "dissolved_on")
# typed, so SQLite's 1 is read back as true and its JSON text as lists and objects
REGISTRY_TYPES = {"vat_payer": sa.Boolean(), "nace": sa.JSON(), "registered_address": sa.JSON()}


def upgrade():
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("registry_values", sa.JSON()))
        batch.add_column(sa.Column("registry_overrides", sa.JSON()))
    connection = op.get_bind()
    clients = sa.table("clients", sa.column("id"), sa.column("registry_status"),
                       sa.column("registry_values", sa.JSON()),
                       sa.column("registry_overrides", sa.JSON()),
                       *(sa.column(name, REGISTRY_TYPES.get(name, sa.String()))
                         for name in REGISTRY_FIELDS))
    connection.execute(clients.update().values(registry_overrides=[]))
    enriched = connection.execute(sa.select(clients).where(
        clients.c.registry_status == "ok")).all()
    if enriched:
        connection.execute(
            clients.update().where(clients.c.id == sa.bindparam("row_id"))
            .values(registry_values=sa.bindparam("values", type_=sa.JSON())),
            [{"row_id": row.id, "values": {name: getattr(row, name)
                                           for name in REGISTRY_FIELDS}}
             for row in enriched])
    with op.batch_alter_table("clients") as batch:
        batch.alter_column("registry_overrides", existing_type=sa.JSON(), nullable=False)


def downgrade():
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("registry_overrides")
        batch.drop_column("registry_values")
