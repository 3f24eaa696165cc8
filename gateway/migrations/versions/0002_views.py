"""saved views of the client list

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "views",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("owner_id", sa.String(36), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("resource", sa.String(20), nullable=False),
        sa.Column("filters", sa.JSON, nullable=False),
        sa.Column("sort", sa.String(40)),
        sa.Column("columns", sa.JSON, nullable=False),
        sa.Column("shared", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer, nullable=False))
    op.create_index("ix_views_owner_id", "views", ["owner_id"])


def downgrade():
    op.drop_index("ix_views_owner_id", table_name="views")
    op.drop_table("views")
