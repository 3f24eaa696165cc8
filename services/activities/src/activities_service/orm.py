"""Tables of the activities database, mapped onto the plain domain classes."""
from sqlalchemy import JSON, Column, DateTime, Index, MetaData, String, Table, Text
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
)
# the timeline of a client / of a deal, newest first (keyset pagination)
Index("ix_timeline_client", timeline_entries.c.client_id, timeline_entries.c.occurred_at,
      timeline_entries.c.id)
Index("ix_timeline_deal", timeline_entries.c.deal_id, timeline_entries.c.occurred_at,
      timeline_entries.c.id)

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
