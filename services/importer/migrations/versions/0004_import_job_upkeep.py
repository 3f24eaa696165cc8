"""import jobs: takeovers from runners that died on them, and when their file was removed

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
    # existing jobs: no takeover counted yet, and their files are all still stored
    with op.batch_alter_table("import_jobs") as batch:
        batch.add_column(sa.Column("takeovers", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("file_removed_at", sa.DateTime(timezone=True)))
        batch.create_index("ix_import_jobs_finished", ["finished_at"])


def downgrade():
    with op.batch_alter_table("import_jobs") as batch:
        batch.drop_index("ix_import_jobs_finished")
        batch.drop_column("file_removed_at")
        batch.drop_column("takeovers")
