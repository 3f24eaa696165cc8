"""Tables of the activities database, mapped onto the plain domain classes."""
from sqlalchemy import (JSON, Boolean, Column, Date, DateTime, Index, Integer, MetaData,
                        String, Table, Text)
from sqlalchemy.orm import registry

from .domain import TimelineEntry

metadata = MetaData()

timeline_entries = Table(
    "timeline_entries", metadata,
    Column("id", String(36), primary_key=True),
    Column("type", String(20), nullable=False),
    Column("title", String(255), nullable=False),
    Column("body", Text, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("author", String(200)),
    Column("source", String(40), nullable=False),
    Column("client_id", String(36)),
    Column("deal_id", String(36)),
    Column("data", JSON, nullable=False),
    # the event an entry was written from: one event can never make two entries
    Column("event_id", String(36), unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # typed entries: edited with If-Match, deleted softly (the audit trail keeps them)
    Column("version", Integer, nullable=False, server_default="1"),
    Column("updated_at", DateTime(timezone=True)),
    Column("updated_by", String(200)),
    Column("deleted_at", DateTime(timezone=True)),
    # title, body and the typed details folded (crm_common.text.fold): the timeline's `q`
    Column("search_text", Text),
    # an e-mail's Message-ID: the same message logged twice is one entry
    Column("message_id", String(500)),
    # a meeting's time (the calendar feed)
    Column("starts_at", DateTime(timezone=True)),
    Column("ends_at", DateTime(timezone=True)),
    # a task's: `due_at` is the moment it falls due (a due_date's is the start of that day)
    Column("assignee_id", String(36)),
    Column("status", String(10)),  # open, done
    Column("priority", String(10)),
    Column("due_date", Date),
    Column("due_at", DateTime(timezone=True)),
    Column("completed_at", DateTime(timezone=True)),
    Column("completed_by", String(200)),
    Column("due_sent_at", DateTime(timezone=True)),  # task.due emitted (exactly once)
    Column("plan_run_id", String(36)),  # the activity plan it came from
)
# the timeline of a client / of a deal, newest first (keyset pagination)
Index("ix_timeline_client", timeline_entries.c.client_id, timeline_entries.c.occurred_at,
      timeline_entries.c.id)
Index("ix_timeline_deal", timeline_entries.c.deal_id, timeline_entries.c.occurred_at,
      timeline_entries.c.id)

# one entry per e-mail and client (another client may log the same e-mail: it is theirs too)
Index("ux_timeline_message_id", timeline_entries.c.client_id, timeline_entries.c.message_id,
      unique=True)
# a person's tasks by due date; the scheduler's open tasks not yet announced as due
Index("ix_tasks_assignee", timeline_entries.c.assignee_id, timeline_entries.c.status,
      timeline_entries.c.due_at)
Index("ix_tasks_due", timeline_entries.c.status, timeline_entries.c.due_sent_at,
      timeline_entries.c.due_at)
Index("ix_timeline_plan_run", timeline_entries.c.plan_run_id)
# what a user wrote (the timelines' `author`, their calendar feed's meetings and tasks)
Index("ix_timeline_author", timeline_entries.c.author, timeline_entries.c.type)

# an entry's contact persons and user attendees: the contact's timeline, a user's calendar
entry_links = Table(
    "entry_links", metadata,
    Column("entry_id", String(36), primary_key=True),
    Column("kind", String(10), primary_key=True),  # contact, user
    Column("ref_id", String(36), primary_key=True),
)
Index("ix_entry_links_ref", entry_links.c.kind, entry_links.c.ref_id, entry_links.c.entry_id)

# the audit trail of typed entries: who created, changed or deleted what
entry_changes = Table(
    "entry_changes", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("entry_id", String(36), nullable=False, index=True),
    Column("action", String(10), nullable=False),  # created, updated, deleted
    Column("actor", String(200)),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
    Column("changes", JSON, nullable=False),  # {field: {before, after}}; all of it on delete
)

# activity plans: ordered steps a rep goes through, applied to a client or a deal as tasks
activity_plans = Table(
    "activity_plans", metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("description", Text),
    Column("steps", JSON, nullable=False),  # [{title, description, due_in_days, assignee}]
    Column("active", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

plan_runs = Table(
    "plan_runs", metadata,
    Column("id", String(36), primary_key=True),
    Column("plan_id", String(36), nullable=False),
    Column("plan_name", String(200), nullable=False),
    Column("client_id", String(36), nullable=False, index=True),
    Column("deal_id", String(36), index=True),
    Column("applied_at", DateTime(timezone=True), nullable=False),
    Column("applied_by", String(200)),
)

# files attached to a client, a deal or an entry; the bytes are in the store (`storage_key`)
attachments = Table(
    "attachments", metadata,
    Column("id", String(36), primary_key=True),
    Column("client_id", String(36), index=True),
    Column("deal_id", String(36), index=True),
    Column("activity_id", String(36), index=True),
    Column("file_name", String(255), nullable=False),
    Column("content_type", String(255), nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("storage", String(10), nullable=False),  # file, s3
    Column("storage_key", String(500), nullable=False),
    Column("status", String(10), nullable=False),  # uploading, stored
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(200)),
    Column("deleted_at", DateTime(timezone=True)),
)

# records whose personal data was erased (GDPR): what arrives about them later, out of
# order, is written redacted
erasures = Table(
    "erasures", metadata,
    Column("record_id", String(36), primary_key=True),
    Column("kind", String(20), nullable=False),  # client, contact
    Column("erased_at", DateTime(timezone=True), nullable=False),
)

# clients merged into another one (client.merged): their entries, and every later one about
# them, belong to the client they were merged into
client_merges = Table(
    "client_merges", metadata,
    Column("source_id", String(36), primary_key=True),
    Column("target_id", String(36), nullable=False),
    Column("merged_at", DateTime(timezone=True), nullable=False),
)

_COLUMNS = tuple(column.name for column in timeline_entries.columns)


def entry_row(entry: TimelineEntry) -> dict:
    """An entry as the parameters of a Core insert (bulk writes skip the ORM's unit of work)."""
    return {name: getattr(entry, name) for name in _COLUMNS}


mapper_registry = registry(metadata=metadata)
mapper_registry.map_imperatively(TimelineEntry, timeline_entries)
