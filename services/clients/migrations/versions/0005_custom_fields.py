"""custom fields: definitions, and the clients' values (existing clients get none)

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "custom_field_definitions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("key", sa.String(63), nullable=False),
        sa.Column("label", sa.String(120), nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("applies_to", sa.String(20), nullable=False),
        sa.Column("choices", sa.JSON(), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("unique", sa.Boolean(), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.UniqueConstraint("applies_to", "key", name="uq_custom_field_key"),
    )
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("custom_fields", sa.JSON()))
    clients = sa.table("clients", sa.column("custom_fields", sa.JSON()))
    op.get_bind().execute(clients.update().values(custom_fields={}))
    with op.batch_alter_table("clients") as batch:
        batch.alter_column("custom_fields", existing_type=sa.JSON(), nullable=False)


def downgrade():
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("custom_fields")
    op.drop_table("custom_field_definitions")
