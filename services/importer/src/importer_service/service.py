"""nameko entrypoints of the importer service (a running service with health; its issue builds the rest)."""

from crm_common.nameko_glue import Database, HealthCheck

from . import SERVICE


class ImporterService(HealthCheck):
    name = SERVICE
    db = Database(SERVICE)
