"""nameko entrypoints of the deals service (a running service with health; its issue builds the rest)."""
from nameko.rpc import rpc

from crm_common.nameko_glue import Database

from . import SERVICE


class DealsService:
    name = SERVICE
    db = Database(SERVICE)

    @rpc
    def health(self):
        with self.db() as uow:
            uow.ping()
        return {"service": SERVICE, "status": "ok"}
