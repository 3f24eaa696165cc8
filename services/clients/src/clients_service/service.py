"""nameko entrypoints of the clients service: thin, everything else is in handlers."""

from crm_common.nameko_glue import (Database, HealthCheck, handle_event,
                                    reliable_event_handler, rpc)

from . import (SERVICE, card as card_handlers, contact_handlers as contacts,
               custom_field_handlers as custom, handlers, import_handlers as imports,
               merge_handlers, registry)


class ClientsService(HealthCheck):
    name = SERVICE
    db = Database(SERVICE)

    @rpc
    def create(self, payload, idempotency_key=None):
        with self.db() as uow:
            return handlers.create_client(uow, payload, idempotency_key)

    @rpc
    def create_many(self, items, idempotency_key=None, positions=None):
        with self.db() as uow:
            return handlers.create_clients(uow, items, idempotency_key, positions)

    @rpc
    def import_batch(self, import_id, mode, rows, dry_run=False):
        with self.db() as uow:
            return imports.import_batch(uow, import_id, mode, rows, dry_run)

    @rpc
    def revert_import(self, import_id, client_ids):
        with self.db() as uow:
            return imports.revert_import(uow, import_id, client_ids)

    @rpc
    def get(self, client_id):
        with self.db.read() as connection:
            return handlers.read_client(connection, client_id, self.db.caller)

    @rpc
    def card(self, client_id, contacts_limit=50, subsidiaries_limit=50):
        with self.db.reader() as uow:
            return card_handlers.card(uow, client_id, contacts_limit, subsidiaries_limit)

    @rpc
    def list(self, limit=50, cursor=None, ico=None, archived="false", q=None, filters=None,
             sort=None, include_total=False, fields=None):
        with self.db.reader() as uow:
            return handlers.list_clients(uow, limit, cursor, ico, archived, q, filters, sort,
                                         include_total, fields)

    @rpc
    def registry_targets(self, client_ids=None, cursor=None, limit=1000):
        with self.db() as uow:
            return registry.registry_targets(uow, client_ids, cursor, limit)

    @rpc
    def duplicates(self, limit=50, cursor=None):
        with self.db() as uow:
            return handlers.duplicate_report(uow, limit, cursor)

    @rpc
    def update(self, client_id, changes, if_match=None, idempotency_key=None):
        with self.db() as uow:
            return handlers.update_client(uow, client_id, changes, if_match, idempotency_key)

    @rpc
    def archive(self, client_id, if_match=None, idempotency_key=None):
        with self.db() as uow:
            return handlers.archive_client(uow, client_id, if_match, idempotency_key)

    @rpc
    def restore(self, client_id, if_match=None, idempotency_key=None):
        with self.db() as uow:
            return handlers.restore_client(uow, client_id, if_match, idempotency_key)

    @rpc
    def subsidiaries(self, client_id, depth="1", limit=50, cursor=None):
        with self.db.reader() as uow:
            return handlers.subsidiaries(uow, client_id, depth, limit, cursor)

    @rpc
    def merge(self, client_id, source_id, fields=None, if_match=None, idempotency_key=None):
        with self.db() as uow:
            return merge_handlers.merge_clients(uow, client_id, source_id, fields, if_match,
                                                idempotency_key)

    @rpc
    def erase(self, client_id, idempotency_key=None):
        with self.db() as uow:
            return handlers.erase_client(uow, client_id, idempotency_key)

    @rpc
    def erase_contact(self, contact_id, idempotency_key=None):
        with self.db() as uow:
            return contacts.erase_contact(uow, contact_id, idempotency_key)

    @rpc
    def history(self, client_id, limit=50, cursor=None):
        with self.db.reader() as uow:
            return handlers.client_history(uow, client_id, limit, cursor)

    @reliable_event_handler("ares", "ares.lookup_succeeded")
    def on_lookup_succeeded(self, event):
        handle_event(handlers.apply_registry_data, self.db, "clients.registry", event)

    @reliable_event_handler("ares", "ares.lookup_failed")
    def on_lookup_failed(self, event):
        handle_event(handlers.registry_lookup_failed, self.db, "clients.registry", event)

    # -- contact persons ---------------------------------------------------------------

    @rpc
    def add_contact(self, client_id, contact, idempotency_key=None, unique_name=False):
        with self.db() as uow:
            return contacts.add_contact(uow, client_id, contact, idempotency_key,
                                        unique_name)

    @rpc
    def list_contacts(self, client_id, limit=50, cursor=None):
        with self.db.reader() as uow:
            return contacts.list_contacts(uow, client_id, limit, cursor)

    @rpc
    def get_contact(self, contact_id):
        with self.db.reader() as uow:
            return contacts.get_contact(uow, contact_id)

    @rpc
    def contact_vcard(self, contact_id):
        with self.db() as uow:
            return contacts.contact_vcard(uow, contact_id)

    @rpc
    def client_vcards(self, client_id):
        with self.db() as uow:
            return contacts.client_vcards(uow, client_id)

    @rpc
    def update_contact(self, contact_id, changes, if_match=None, idempotency_key=None):
        with self.db() as uow:
            return contacts.update_contact(uow, contact_id, changes, if_match,
                                           idempotency_key)

    @rpc
    def update_contact_link(self, client_id, contact_id, changes, idempotency_key=None):
        with self.db() as uow:
            return contacts.update_link(uow, client_id, contact_id, changes, idempotency_key)

    @rpc
    def remove_contact_link(self, client_id, contact_id, idempotency_key=None):
        with self.db() as uow:
            return contacts.remove_link(uow, client_id, contact_id, idempotency_key)

    @rpc
    def delete_contact(self, contact_id, if_match=None, idempotency_key=None):
        with self.db() as uow:
            return contacts.delete_contact(uow, contact_id, if_match, idempotency_key)

    # -- custom field definitions ------------------------------------------------------

    @rpc
    def custom_fields(self, applies_to=None, include_retired=False):
        with self.db.reader() as uow:
            return custom.list_definitions(uow, applies_to, include_retired)

    @rpc
    def check_custom_values(self, applies_to, sent, current=None, creating=False):
        with self.db() as uow:
            return custom.check_values(uow, applies_to, sent, current, creating)

    @rpc
    def define_custom_field(self, definition, idempotency_key=None):
        with self.db() as uow:
            return custom.create_definition(uow, definition, idempotency_key)

    @rpc
    def update_custom_field(self, definition_id, changes, idempotency_key=None):
        with self.db() as uow:
            return custom.update_definition(uow, definition_id, changes, idempotency_key)

    @rpc
    def retire_custom_field(self, definition_id, idempotency_key=None):
        with self.db() as uow:
            return custom.retire_definition(uow, definition_id, idempotency_key)
