"""An RPC service that does nothing: what the framework alone costs per call (nameko's
worker, eventlet, kombu, with crm_common's entrypoint), apart from any work of ours."""
from crm_common.nameko_glue import rpc


class Bare:
    name = "benchbare"

    @rpc
    def ping(self):
        return {"status": "ok"}
