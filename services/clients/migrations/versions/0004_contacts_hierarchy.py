"""contact persons (linked to clients, one primary per client) and client hierarchies

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("parent_id", sa.String(36)))
        batch.create_index("ix_clients_parent_id", ["parent_id"])
    op.create_table(
        "contacts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("first_name", sa.String(100)),
        sa.Column("last_name", sa.String(100)),
        sa.Column("degree", sa.String(60)),
        sa.Column("position", sa.String(120)),
        sa.Column("emails", sa.JSON(), nullable=False),
        sa.Column("phones", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text()),
        sa.Column("custom_fields", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(200)),
        sa.Column("updated_by", sa.String(200)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_table(
        "client_contacts",
        sa.Column("client_id", sa.String(36), primary_key=True),
        sa.Column("contact_id", sa.String(36), primary_key=True),
        sa.Column("position", sa.String(120)),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_client_contacts_contact_id", "client_contacts", ["contact_id"])
    primary = sa.column("is_primary", sa.Boolean())
    op.create_index("ux_client_contacts_primary", "client_contacts", ["client_id"],
                    unique=True, sqlite_where=primary, postgresql_where=primary)


def downgrade():
    op.drop_index("ux_client_contacts_primary", table_name="client_contacts")
    op.drop_index("ix_client_contacts_contact_id", table_name="client_contacts")
    op.drop_table("client_contacts")
    op.drop_table("contacts")
    with op.batch_alter_table("clients") as batch:
        batch.drop_index("ix_clients_parent_id")
        batch.drop_column("parent_id")
