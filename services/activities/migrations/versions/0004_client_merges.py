"""merges: which client each merged one lives on in (its entries move there, and so do
entries about it that arrive later)

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
    op.create_table(
        "client_merges",
        sa.Column("source_id", sa.String(36), primary_key=True),
        sa.Column("target_id", sa.String(36), nullable=False),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade():
    op.drop_table("client_merges")
