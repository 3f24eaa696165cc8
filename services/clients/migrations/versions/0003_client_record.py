"""the complete client record: contact lists, addresses, classification, billing, archive;
the change history

Existing clients keep every value: `emails` / `phones` start as their `email` / `phone`
(a phone in E.164 when it is a valid number, else as typed, labelled "unverified"), the
list columns as empty lists, and each client's history starts with one `created` row
(at its creation time, actor unknown) so that no client has an empty history.

Revision ID: 0003
Revises: 0002
"""
import uuid

import phonenumbers
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

NEW_COLUMNS = [
    sa.Column("website", sa.String(500)),
    sa.Column("description", sa.Text()),
    sa.Column("industry", sa.String(120)),
    sa.Column("relationship", sa.String(20)),
    sa.Column("category", sa.String(1)),
    sa.Column("tags", sa.JSON()),
    sa.Column("owner_id", sa.String(64)),
    sa.Column("emails", sa.JSON()),
    sa.Column("phones", sa.JSON()),
    sa.Column("contact_address", sa.JSON()),
    sa.Column("delivery_addresses", sa.JSON()),
    sa.Column("bank_accounts", sa.JSON()),
    sa.Column("billing", sa.JSON()),
    sa.Column("contact_preferences", sa.JSON()),
    sa.Column("created_by", sa.String(200)),
    sa.Column("updated_by", sa.String(200)),
    sa.Column("archived_at", sa.DateTime(timezone=True)),
]
LISTS = ("tags", "emails", "phones", "delivery_addresses", "bank_accounts")


def upgrade():
    with op.batch_alter_table("clients") as batch:
        for column in NEW_COLUMNS:
            batch.add_column(column)
    history = op.create_table(
        "client_history",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("client_id", sa.String(36), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200)),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer()),
    )
    op.create_index("ix_client_history", "client_history", ["client_id", "at", "id"])

    connection = op.get_bind()
    clients = sa.table("clients", sa.column("id"), sa.column("email"), sa.column("phone"),
                       sa.column("created_at", sa.DateTime(timezone=True)), sa.column("version"),
                       *(sa.column(name, sa.JSON()) for name in LISTS))
    connection.execute(clients.update().values({name: [] for name in LISTS}))
    rows = connection.execute(sa.select(clients.c.id, clients.c.email, clients.c.phone,
                                        clients.c.created_at, clients.c.version)).all()
    contacts = [{"row_id": row.id,
                 "new_emails": [{"value": row.email, "label": None}] if row.email else [],
                 "new_phones": [_phone(row.phone)] if row.phone else [],
                 "new_phone": _phone(row.phone)["value"] if row.phone else None}
                for row in rows if row.email or row.phone]
    if contacts:
        connection.execute(clients.update().where(clients.c.id == sa.bindparam("row_id"))
                           .values(emails=sa.bindparam("new_emails", type_=sa.JSON()),
                                   phones=sa.bindparam("new_phones", type_=sa.JSON()),
                                   phone=sa.bindparam("new_phone")),
                           contacts)
    if rows:
        connection.execute(history.insert(), [
            {"id": str(uuid.uuid4()), "client_id": row.id, "at": row.created_at,
             "actor": None, "action": "created", "changes": {}, "version": row.version}
            for row in rows])
    with op.batch_alter_table("clients") as batch:
        for name in LISTS:
            batch.alter_column(name, existing_type=sa.JSON(), nullable=False)


def _phone(typed: str) -> dict:
    """A phone typed before numbers were checked: E.164 when it is a valid number (Czech
    without a country code), else kept as typed and labelled so that someone looks at it."""
    try:
        number = phonenumbers.parse(typed.strip().replace("00", "+", 1)
                                    if typed.strip().startswith("00") else typed, "CZ")
        if phonenumbers.is_valid_number(number):
            return {"value": phonenumbers.format_number(
                number, phonenumbers.PhoneNumberFormat.E164), "label": None}
    except phonenumbers.NumberParseException:
        pass
    return {"value": typed, "label": "unverified"}


def downgrade():
    op.drop_index("ix_client_history", table_name="client_history")
    op.drop_table("client_history")
    with op.batch_alter_table("clients") as batch:
        for column in reversed(NEW_COLUMNS):
            batch.drop_column(column.name)
