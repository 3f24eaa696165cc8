"""Tables of the clients database, mapped onto the plain domain classes."""
from sqlalchemy import (JSON, Boolean, Column, DateTime, Index, Integer, MetaData, String,
                        Table)
from sqlalchemy.orm import registry

from .domain import Client

metadata = MetaData()

clients = Table(
    "clients", metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(10), nullable=False),
    Column("name", String(255), nullable=False),
    Column("ico", String(8), index=True),
    Column("dic", String(14)),
    Column("vat_payer", Boolean),
    Column("vat_group_dic", String(14)),
    Column("legal_form", String(3)),
    Column("legal_form_name", String(120)),
    Column("nace", JSON, nullable=False),
    Column("registered_address", JSON),
    Column("dissolved_on", String(10)),  # ISO date, from the register
    Column("email", String(254)),
    Column("phone", String(40)),
    Column("registry_source", String(20)),
    Column("registry_fetched_at", DateTime(timezone=True)),
    Column("registry_status", String(20)),
    Column("registry_checked_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
)
Index("ix_clients_created", clients.c.created_at, clients.c.id)

mapper_registry = registry(metadata=metadata)
mapper_registry.map_imperatively(Client, clients, version_id_col=clients.c.version,
                                 version_id_generator=False)
