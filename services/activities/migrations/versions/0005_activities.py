"""activities: typed entries (meetings, calls, e-mails, tasks) with versions and an audit
trail, links to contact persons and attendees, activity plans, attachments

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ENTRY_COLUMNS = (
    ("version", sa.Integer, {"nullable": False, "server_default": "1"}),
    ("updated_at", sa.DateTime(timezone=True), {}),
    ("updated_by", sa.String(200), {}),
    ("deleted_at", sa.DateTime(timezone=True), {}),
    ("search_text", sa.Text, {}),
    ("message_id", sa.String(500), {}),
    ("starts_at", sa.DateTime(timezone=True), {}),
    ("ends_at", sa.DateTime(timezone=True), {}),
    ("assignee_id", sa.String(36), {}),
    ("status", sa.String(10), {}),
    ("priority", sa.String(10), {}),
    ("due_date", sa.Date, {}),
    ("due_at", sa.DateTime(timezone=True), {}),
    ("completed_at", sa.DateTime(timezone=True), {}),
    ("completed_by", sa.String(200), {}),
    ("due_sent_at", sa.DateTime(timezone=True), {}),
    ("plan_run_id", sa.String(36), {}),
)


def upgrade():
    # the entries there are (notes and system entries) are version 1 and no task
    with op.batch_alter_table("timeline_entries") as batch:
        for name, type_, options in ENTRY_COLUMNS:
            batch.add_column(sa.Column(name, type_, **options))
    _fold_existing_entries()
    op.create_index("ux_timeline_message_id", "timeline_entries", ["client_id", "message_id"],
                    unique=True)
    op.create_index("ix_tasks_assignee", "timeline_entries",
                    ["assignee_id", "status", "due_at"])
    op.create_index("ix_tasks_due", "timeline_entries", ["status", "due_sent_at", "due_at"])
    op.create_index("ix_timeline_plan_run", "timeline_entries", ["plan_run_id"])
    op.create_index("ix_timeline_author", "timeline_entries", ["author", "type"])

    op.create_table(
        "entry_links",
        sa.Column("entry_id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(10), primary_key=True),
        sa.Column("ref_id", sa.String(36), primary_key=True),
    )
    op.create_index("ix_entry_links_ref", "entry_links", ["kind", "ref_id", "entry_id"])
    # a contact person added to a client: that entry is on the contact's timeline too
    bind = op.get_bind()
    entries = sa.table("timeline_entries", sa.column("id", sa.String), sa.column("data", sa.JSON),
                       sa.column("event_id", sa.String))
    links = [{"entry_id": entry_id, "kind": "contact", "ref_id": data["contact"]["id"]}
             for entry_id, data in bind.execute(sa.select(entries.c.id, entries.c.data))
             if isinstance(data, dict) and isinstance(data.get("contact"), dict)
             and data["contact"].get("id")]
    if links:
        op.bulk_insert(sa.table("entry_links", sa.column("entry_id", sa.String),
                                sa.column("kind", sa.String), sa.column("ref_id", sa.String)),
                       links)

    op.create_table(
        "entry_changes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("entry_id", sa.String(36), nullable=False),
        sa.Column("action", sa.String(10), nullable=False),
        sa.Column("actor", sa.String(200)),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("changes", sa.JSON, nullable=False),
    )
    op.create_index("ix_entry_changes_entry_id", "entry_changes", ["entry_id"])

    op.create_table(
        "activity_plans",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("steps", sa.JSON, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "plan_runs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("plan_id", sa.String(36), nullable=False),
        sa.Column("plan_name", sa.String(200), nullable=False),
        sa.Column("client_id", sa.String(36), nullable=False),
        sa.Column("deal_id", sa.String(36)),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_by", sa.String(200)),
    )
    op.create_index("ix_plan_runs_client_id", "plan_runs", ["client_id"])
    op.create_index("ix_plan_runs_deal_id", "plan_runs", ["deal_id"])

    op.create_table(
        "attachments",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("client_id", sa.String(36)),
        sa.Column("deal_id", sa.String(36)),
        sa.Column("activity_id", sa.String(36)),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("storage", sa.String(10), nullable=False),
        sa.Column("storage_key", sa.String(500), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(200)),
        sa.Column("deleted_at", sa.DateTime(timezone=True)),
    )
    for column in ("client_id", "deal_id", "activity_id"):
        op.create_index(f"ix_attachments_{column}", "attachments", [column])


def _fold_existing_entries():
    """The `q` of the timeline finds the entries written before it too."""
    from crm_common.text import fold
    bind = op.get_bind()
    entries = sa.table("timeline_entries", sa.column("id", sa.String),
                       sa.column("title", sa.Text), sa.column("body", sa.Text),
                       sa.column("search_text", sa.Text))
    rows = bind.execute(sa.select(entries.c.id, entries.c.title, entries.c.body)).all()
    for start in range(0, len(rows), 1000):
        bind.execute(entries.update().where(entries.c.id == sa.bindparam("entry_id"))
                     .values(search_text=sa.bindparam("text")),
                     [{"entry_id": row.id, "text": fold(f"{row.title} {row.body}")}
                      for row in rows[start:start + 1000]])


def downgrade():
    for table in ("attachments", "plan_runs", "activity_plans", "entry_changes", "entry_links"):
        op.drop_table(table)
    for index in ("ux_timeline_message_id", "ix_tasks_assignee", "ix_tasks_due",
                  "ix_timeline_plan_run", "ix_timeline_author"):
        op.drop_index(index, "timeline_entries")
    with op.batch_alter_table("timeline_entries") as batch:
        for name, _, _ in reversed(ENTRY_COLUMNS):
            batch.drop_column(name)
