"""import jobs, row results, templates

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)


def upgrade():
    op.create_table(
        "import_jobs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("mode", sa.String(10), nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("file_size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("storage", sa.String(10), nullable=False),
        sa.Column("storage_key", sa.String(500), nullable=False),
        sa.Column("options", sa.JSON, nullable=False),
        sa.Column("users", sa.JSON, nullable=False),
        sa.Column("table", sa.JSON),
        sa.Column("mapping", sa.JSON),
        sa.Column("rows_total", sa.Integer),
        sa.Column("rows_done", sa.Integer, nullable=False),
        sa.Column("last_row", sa.Integer, nullable=False),
        sa.Column("counts", sa.JSON, nullable=False),
        sa.Column("preview", sa.JSON),
        sa.Column("error", sa.JSON),
        sa.Column("revert", sa.JSON),
        sa.Column("cancel_requested", sa.Boolean, nullable=False),
        sa.Column("actor", sa.String(200)),
        sa.Column("caller", sa.JSON, nullable=False),
        sa.Column("caller_id", sa.String(64)),
        sa.Column("correlation_id", sa.String(200)),
        sa.Column("runner", sa.String(36)),
        sa.Column("lease_until", TIME),
        sa.Column("progress_at", TIME),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("started_at", TIME),
        sa.Column("finished_at", TIME),
    )
    op.create_index("ix_import_jobs_status", "import_jobs", ["status", "lease_until"])
    op.create_index("ix_import_jobs_created", "import_jobs", ["created_at", "id"])
    op.create_index("ix_import_jobs_owner", "import_jobs", ["caller_id", "created_at"])
    op.create_table(
        "import_rows",
        sa.Column("job_id", sa.String(36), primary_key=True),
        sa.Column("row", sa.Integer, primary_key=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("client_id", sa.String(36)),
        sa.Column("reason", sa.String(40)),
        sa.Column("errors", sa.JSON),
        sa.Column("values", sa.JSON),
        sa.Column("ico", sa.String(20)),
        sa.Column("email", sa.String(254)),
    )
    op.create_index("ix_import_rows_status", "import_rows", ["job_id", "status", "row"])
    op.create_table(
        "import_templates",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("mapping", sa.JSON, nullable=False),
        sa.Column("mode", sa.String(10)),
        sa.Column("sheet", sa.String(120)),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_by", sa.String(200)),
        sa.Column("creator_id", sa.String(64)),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("deleted_at", TIME),
    )
    op.create_index("ix_import_templates_name", "import_templates", ["name"])


def downgrade():
    op.drop_table("import_templates")
    op.drop_table("import_rows")
    op.drop_table("import_jobs")
