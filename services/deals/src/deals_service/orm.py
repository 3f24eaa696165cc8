"""Tables of the deals database, mapped onto the plain domain classes."""
from sqlalchemy import (JSON, BigInteger, Boolean, Column, Date, DateTime, Index, Integer,
                        MetaData, String, Table, Text)
from sqlalchemy.orm import registry

from .domain import Deal, Pipeline, Stage

metadata = MetaData()

pipelines = Table(
    "pipelines", metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(120), nullable=False),
    Column("position", Integer, nullable=False),
    Column("is_default", Boolean, nullable=False),
    Column("archived_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
)

stages = Table(
    "stages", metadata,
    Column("id", String(36), primary_key=True),
    Column("pipeline_id", String(36), nullable=False, index=True),
    Column("name", String(120), nullable=False),
    Column("position", Integer, nullable=False),
    Column("probability", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
)

deals = Table(
    "deals", metadata,
    Column("id", String(36), primary_key=True),
    Column("title", String(255), nullable=False),
    Column("client_id", String(36), nullable=False),
    Column("client_name", String(255)),
    Column("client_version", Integer),
    Column("contact_id", String(36)),
    Column("owner_id", String(64)),
    Column("pipeline_id", String(36), nullable=False),
    Column("stage_id", String(36), nullable=False),
    # money.py: whole minor units (exact on SQLite too, summed exactly by SQL)
    Column("value_minor", BigInteger),
    Column("currency", String(3), nullable=False),
    Column("expected_close_date", Date),
    Column("probability", Integer, nullable=False),
    Column("probability_manual", Boolean, nullable=False),
    Column("source", String(120)),
    Column("description", Text),
    Column("tags", JSON, nullable=False),
    Column("custom_fields", JSON, nullable=False),
    Column("status", String(10), nullable=False),
    Column("closed_at", DateTime(timezone=True)),
    Column("lost_reason", String(120)),
    Column("lost_note", Text),
    Column("client_archived", Boolean, nullable=False),
    Column("stage_entered_at", DateTime(timezone=True)),
    Column("created_by", String(200)),
    Column("updated_by", String(200)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
    Column("search_text", Text),  # derived: the title and the client's name, folded
)
Index("ix_deals_client", deals.c.client_id, deals.c.status)
Index("ix_deals_board", deals.c.stage_id, deals.c.status, deals.c.updated_at, deals.c.id)
Index("ix_deals_created", deals.c.created_at, deals.c.id)
Index("ix_deals_owner", deals.c.owner_id)

# every write of a deal; a stage move names both stages as they were called then
deal_history = Table(
    "deal_history", metadata,
    Column("id", String(36), primary_key=True),
    Column("deal_id", String(36), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(200)),
    # created, updated, stage_changed, won, lost, reopened, client_merged, erased
    Column("action", String(20), nullable=False),
    Column("changes", JSON, nullable=False),
    Column("from_stage", JSON),  # {id, name} on a move
    Column("to_stage", JSON),  # {id, name}: the stage entered (also on creation)
    Column("version", Integer),
)
Index("ix_deal_history", deal_history.c.deal_id, deal_history.c.at, deal_history.c.id)

lost_reasons = Table(
    "lost_reasons", metadata,
    Column("id", String(36), primary_key=True),
    Column("label", String(120), nullable=False, unique=True),
    Column("position", Integer, nullable=False),
    Column("active", Boolean, nullable=False),
)

# the ČNB's daily rates: CZK per `amount` units of `currency` on `rate_date`
exchange_rates = Table(
    "exchange_rates", metadata,
    Column("rate_date", Date, primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("amount", Integer, nullable=False),
    Column("rate", String(20), nullable=False),  # a decimal, as the ČNB writes it
    Column("fetched_at", DateTime(timezone=True), nullable=False),
)

mapper_registry = registry(metadata=metadata)
mapper_registry.map_imperatively(Pipeline, pipelines, version_id_col=pipelines.c.version,
                                 version_id_generator=False)
mapper_registry.map_imperatively(Stage, stages, version_id_col=stages.c.version,
                                 version_id_generator=False)
mapper_registry.map_imperatively(Deal, deals, version_id_col=deals.c.version,
                                 version_id_generator=False, exclude_properties=["search_text"])
