"""Tables of the clients database, mapped onto the plain domain classes."""
from sqlalchemy import (JSON, Boolean, Column, DateTime, Index, Integer, MetaData, String,
                        Table, Text, UniqueConstraint)
from sqlalchemy.orm import registry

from .contacts import Contact
from .custom_fields import Definition
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
    Column("website", String(500)),
    Column("description", Text),
    Column("industry", String(120)),
    Column("relationship", String(20)),
    Column("category", String(1)),
    Column("tags", JSON, nullable=False),
    Column("owner_id", String(64)),
    Column("parent_id", String(36), index=True),
    Column("emails", JSON, nullable=False),
    Column("phones", JSON, nullable=False),
    Column("contact_address", JSON),
    Column("delivery_addresses", JSON, nullable=False),
    Column("bank_accounts", JSON, nullable=False),
    Column("billing", JSON),
    Column("contact_preferences", JSON),
    Column("custom_fields", JSON, nullable=False),
    Column("registry_values", JSON),
    Column("registry_overrides", JSON, nullable=False),
    Column("created_by", String(200)),
    Column("updated_by", String(200)),
    Column("archived_at", DateTime(timezone=True)),
    Column("erased_at", DateTime(timezone=True)),
    Column("merged_into", String(36)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
    # derived, for search, sort and filters (search.derived); not part of the domain object
    Column("search_text", Text),
    Column("name_folded", String(255)),
    Column("city", String(120)),
)
Index("ix_clients_created", clients.c.created_at, clients.c.id)
Index("ix_clients_updated", clients.c.updated_at, clients.c.id)
Index("ix_clients_name_folded", clients.c.name_folded, clients.c.id)
Index("ix_clients_city", clients.c.city)
Index("ix_clients_owner", clients.c.owner_id)
# the search itself: SQLite's FTS5 table clients_fts (with the column search_seq and its
# index) and PostgreSQL's trigram index are made by migration 0008, PostgreSQL's indexes
# for a large register (the name in byte order, the filters, the tags) by 0010 (no
# dialect-neutral form of them here)
metadata.info["unmanaged"] = ("clients_fts", "ix_clients_search_trgm", "search_seq",
                              "ux_clients_search_seq", "ix_clients_name_c",
                              "ix_clients_filters", "ix_clients_tags")

# what duplicates share (search.duplicate_keys): e-mails, phones, the name without its
# legal form; kept with the derived columns, looked up by (kind, value)
client_keys = Table(
    "client_keys", metadata,
    Column("client_id", String(36), primary_key=True),
    Column("kind", String(10), primary_key=True),
    Column("value", String(255), primary_key=True),
)
Index("ix_client_keys_value", client_keys.c.kind, client_keys.c.value)

# the change log of every client: one row per write, whoever made it
client_history = Table(
    "client_history", metadata,
    Column("id", String(36), primary_key=True),
    Column("client_id", String(36), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(200)),
    # created, updated, registry, archived, restored (erased with the erasure)
    Column("action", String(20), nullable=False),
    Column("changes", JSON, nullable=False),
    Column("version", Integer),  # the client's version after the change
)
Index("ix_client_history", client_history.c.client_id, client_history.c.at,
      client_history.c.id)

contacts = Table(
    "contacts", metadata,
    Column("id", String(36), primary_key=True),
    Column("first_name", String(100)),
    Column("last_name", String(100)),
    Column("degree", String(60)),
    Column("position", String(120)),
    Column("emails", JSON, nullable=False),
    Column("phones", JSON, nullable=False),
    Column("note", Text),
    Column("custom_fields", JSON, nullable=False),
    Column("created_by", String(200)),
    Column("updated_by", String(200)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
)

# who works with which client: the position there, and the client's primary contact
client_contacts = Table(
    "client_contacts", metadata,
    Column("client_id", String(36), primary_key=True),
    Column("contact_id", String(36), primary_key=True, index=True),
    Column("position", String(120)),
    Column("is_primary", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
# at most one primary contact per client, whatever writes the table
Index("ux_client_contacts_primary", client_contacts.c.client_id, unique=True,
      sqlite_where=client_contacts.c.is_primary, postgresql_where=client_contacts.c.is_primary)

# custom fields defined at run time; their values are in the records' custom_fields
custom_field_definitions = Table(
    "custom_field_definitions", metadata,
    Column("id", String(36), primary_key=True),
    Column("key", String(63), nullable=False),
    Column("label", String(120), nullable=False),
    Column("type", String(20), nullable=False),
    Column("applies_to", String(20), nullable=False),
    Column("choices", JSON, nullable=False),
    Column("required", Boolean, nullable=False),
    Column("unique", Boolean, nullable=False),
    Column("retired_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
    UniqueConstraint("applies_to", "key", name="uq_custom_field_key"),
)

mapper_registry = registry(metadata=metadata)
mapper_registry.map_imperatively(Definition, custom_field_definitions,
                                 version_id_col=custom_field_definitions.c.version,
                                 version_id_generator=False)
mapper_registry.map_imperatively(Contact, contacts, version_id_col=contacts.c.version,
                                 version_id_generator=False)
mapper_registry.map_imperatively(Client, clients, version_id_col=clients.c.version,
                                 version_id_generator=False,
                                 exclude_properties=["search_text", "name_folded", "city"])
