"""lookup queue (every lookup, not only retries), refresh jobs, watched clients, shared
throttle

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    # queued retries of the old design stay, as lookups caused by a new client
    with op.batch_alter_table("refresh_queue") as batch:
        batch.add_column(sa.Column("causation_id", sa.String(64)))
        batch.add_column(sa.Column("reason", sa.String(20), nullable=False,
                                   server_default="created"))
        batch.add_column(sa.Column("bypass_cache", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("quiet", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("claimed_by", sa.String(36)))
        batch.create_index("ix_refresh_queue_ico", ["ico"])
    op.create_table(
        "refresh_jobs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("changed", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("unchanged", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("failed", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("skipped", sa.JSON()),
        sa.Column("requested_by", sa.String(100)),
        sa.Column("caller_id", sa.String(36)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)))
    op.create_table(
        "refresh_job_items",
        sa.Column("job_id", sa.String(36), primary_key=True),
        sa.Column("client_id", sa.String(36), primary_key=True),
        sa.Column("ico", sa.String(8), nullable=False),
        sa.Column("outcome", sa.String(20)))
    op.create_index("ix_refresh_job_items_ico", "refresh_job_items", ["ico"])
    op.create_table(
        "registry_watch",
        sa.Column("client_id", sa.String(36), primary_key=True),
        sa.Column("ico", sa.String(8), nullable=False),
        sa.Column("next_refresh_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fingerprint", sa.String(64)))
    op.create_index("ix_registry_watch_next_refresh_at", "registry_watch",
                    ["next_refresh_at"])
    op.create_table(
        "throttle_buckets",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("stamp", sa.Float(), nullable=False))
    # clients enriched before this revision are not known here by id: they join the
    # scheduled refresh with their next lookup, or at once with a refresh of all clients


def downgrade():
    op.drop_table("throttle_buckets")
    op.drop_index("ix_registry_watch_next_refresh_at", "registry_watch")
    op.drop_table("registry_watch")
    op.drop_index("ix_refresh_job_items_ico", "refresh_job_items")
    op.drop_table("refresh_job_items")
    op.drop_table("refresh_jobs")
    with op.batch_alter_table("refresh_queue") as batch:
        batch.drop_index("ix_refresh_queue_ico")
        for name in ("claimed_by", "lease_until", "quiet", "bypass_cache", "reason", "causation_id"):
            batch.drop_column(name)
