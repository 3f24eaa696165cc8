"""nameko entrypoints of the importer service: thin, everything else is in the modules.

Uploads arrive from the gateway in pieces over RPC; a timer lets the runner claim queued
jobs (and jobs whose runner died) and work them off (runner.py)."""
from nameko.timer import timer

from crm_common.access import Caller
from crm_common.config import env_float
from crm_common.events import EventContext
from crm_common.nameko_glue import Database, HealthCheck, rpc

from . import SERVICE, jobs, runner, templates, uploads
from .clients_port import ClientsPort

POLL_SECONDS = env_float("IMPORTER_POLL_SECONDS", 1.0)
FILE_SWEEP_SECONDS = 3600


class ImporterService(HealthCheck):
    name = SERVICE
    db = Database(SERVICE)

    @rpc
    def upload_begin(self, file_name, idempotency_key=None):
        with self.db() as uow:
            return uploads.begin(uow, file_name, idempotency_key)

    @rpc
    def upload_chunk(self, upload_id, offset, data):
        with self.db() as uow:
            return uploads.write_piece(uow, upload_id, offset, data)

    @rpc
    def upload_finish(self, upload_id, size, sha256, options=None, idempotency_key=None):
        with self.db() as uow:
            return uploads.finish(uow, upload_id, size, sha256, options, idempotency_key)

    @rpc
    def upload_abort(self, upload_id):
        with self.db() as uow:
            return uploads.abort(uow, upload_id)

    @rpc
    def get(self, import_id):
        with self.db() as uow:
            return jobs.get(uow, import_id)

    @rpc
    def list(self, limit=50, cursor=None, status=None):
        with self.db() as uow:
            return jobs.list_jobs(uow, limit, cursor, status)

    @rpc
    def rows(self, import_id, status=None, limit=50, cursor=None):
        with self.db() as uow:
            return jobs.row_results(uow, import_id, status, limit, cursor)

    @rpc
    def cancel(self, import_id):
        with self.db() as uow:
            return jobs.cancel(uow, import_id)

    @rpc
    def revert(self, import_id):
        with self.db() as uow:
            return jobs.request_revert(uow, import_id)

    @rpc
    def template_list(self, limit=50, cursor=None):
        with self.db() as uow:
            return templates.list_templates(uow, limit, cursor)

    @rpc
    def template_get(self, template_id):
        with self.db() as uow:
            return templates.get(uow, template_id)

    @rpc
    def template_create(self, template, idempotency_key=None):
        with self.db() as uow:
            return templates.create(uow, template, idempotency_key)

    @rpc
    def template_update(self, template_id, changes, if_match=None):
        with self.db() as uow:
            return templates.change(uow, template_id, changes, if_match)

    @rpc
    def template_delete(self, template_id, if_match=None):
        with self.db() as uow:
            return templates.delete(uow, template_id, if_match)

    @timer(interval=POLL_SECONDS)
    def work(self):
        """Every job waiting, one after the other (other replicas take the others)."""
        me = runner.new_runner_id()
        while True:
            with self.db() as uow:
                job = runner.claim(uow, me)
            if job is None:
                return
            context = EventContext(actor=job.actor, correlation_id=job.correlation_id,
                                   caller=Caller.from_context(job.caller))
            clients = ClientsPort({"actor": job.actor, "correlation_id": job.correlation_id,
                                   **job.caller})
            run = runner.JobRun(lambda: self.db(context), job, clients, me)
            clients.on_retry = run.renew
            try:
                run.run()
            finally:
                clients.close()

    @timer(interval=FILE_SWEEP_SECONDS, eager=True)  # also at start: pods restart often
    def remove_old_files(self):
        """Files of jobs finished IMPORTER_FILE_RETENTION_DAYS ago (uploads.remove_old_files)."""
        with self.db() as uow:
            while uploads.remove_old_files(uow) == uploads.SWEEP_BATCH:
                pass
