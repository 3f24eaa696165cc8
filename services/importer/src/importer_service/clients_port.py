"""The importer's way to the clients service: nameko RPC over crm_common's client, acting for
the person who started the job (their record-level rule applies to what the import matches).

A batch that got no answer is sent again with the same rows: the clients service keys every
row (`import:<job>:<row>`), so a repeat answers what it did and writes nothing twice."""
import logging
import time

from crm_common import config
from crm_common.rpc import NotSent, RemoteError, RpcClient, RpcTimeout

log = logging.getLogger(__name__)
ATTEMPTS = 4
# what the clients service answers when the same batch may well go through later
TRANSIENT = frozenset({"ServiceUnavailable", "OutcomeUnknown", "DeadlineExceeded", "Conflict"})


class ClientsUnavailable(Exception):
    """The clients service did not answer: the job waits and goes on later."""


class ClientsPort:
    def __init__(self, context: dict, timeout: float = 30.0, on_retry=lambda: None):
        self.context, self.timeout, self.on_retry = context, timeout, on_retry
        self._client: RpcClient | None = None

    def _call(self, method: str, **kwargs):
        for attempt in range(ATTEMPTS):
            try:
                if self._client is None or self._client.broken:
                    self._drop()
                    self._client = RpcClient(config.amqp_uri(), self.timeout, heartbeat=0)
                return self._client.call("clients", method, kwargs, context=self.context)
            except (NotSent, RpcTimeout, OSError, RemoteError) as exc:
                if isinstance(exc, RemoteError) and exc.exc_type not in TRANSIENT:
                    raise
                self._drop()
                log.warning("clients.%s: %s (attempt %s of %s)", method, exc, attempt + 1,
                            ATTEMPTS)
                time.sleep(min(2 ** attempt, 10))
                self.on_retry()  # the job's lease outlasts the waiting
        raise ClientsUnavailable(f"clients.{method} did not answer")

    def custom_fields(self) -> list[dict]:
        return self._call("custom_fields", applies_to="client")["items"]

    def import_batch(self, import_id: str, mode: str, rows: list[dict], dry_run: bool
                     ) -> list[dict]:
        return self._call("import_batch", import_id=import_id, mode=mode, rows=rows,
                          dry_run=dry_run)

    def revert_import(self, import_id: str, client_ids: list[str]) -> dict:
        return self._call("revert_import", import_id=import_id, client_ids=client_ids)

    def _drop(self) -> None:
        if self._client is not None:
            self._client.discard()
            self._client = None

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
