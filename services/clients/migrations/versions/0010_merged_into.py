"""merge: a client merged into another one points to it (`merged_into`) and is archived

A plain ALTER TABLE, not batch mode: batch mode copies `clients` on SQLite, which would
drop the search index's triggers (search_index.py).

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("clients", sa.Column("merged_into", sa.String(36)))


def downgrade():
    op.drop_column("clients", "merged_into")
