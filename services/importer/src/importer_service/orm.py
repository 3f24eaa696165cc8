"""Tables of the importer database: import jobs, the result of every row, uploads on their
way in, and saved mappings (templates). The outbox and inbox come from crm_common."""
from sqlalchemy import (JSON, BigInteger, Boolean, Column, DateTime, Index, Integer, MetaData,
                        String, Table)

metadata = MetaData()

jobs = Table(
    "import_jobs", metadata,
    Column("id", String(36), primary_key=True),
    # uploading (bytes arriving; not a job yet), queued, running, completed, failed,
    # cancelled, reverting, reverted
    Column("status", String(12), nullable=False),
    Column("version", Integer, nullable=False),
    Column("mode", String(10), nullable=False),  # create, upsert, update
    Column("dry_run", Boolean, nullable=False),
    Column("file_name", String(255), nullable=False),
    Column("file_size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("storage", String(10), nullable=False),  # file, s3
    Column("storage_key", String(500), nullable=False),
    Column("options", JSON, nullable=False),  # what was asked: sheet, mapping, template_id
    Column("users", JSON, nullable=False),  # the people an owner column may name
    Column("table", JSON),  # what was found: format, encoding, delimiter, sheet, headers...
    Column("mapping", JSON),  # the mapping used: {column index: target}
    Column("rows_total", Integer),
    Column("rows_done", Integer, nullable=False),
    Column("last_row", Integer, nullable=False),  # the file row the committed batches reached
    Column("counts", JSON, nullable=False),  # {created, updated, unchanged, skipped, failed}
    Column("preview", JSON),  # a dry run's first rows as they would be stored
    Column("error", JSON),  # {code, cs, en} of a failed job
    Column("revert", JSON),  # {archived, kept, updated} once reverted
    Column("cancel_requested", Boolean, nullable=False),
    Column("actor", String(200)),
    Column("caller", JSON, nullable=False),  # who started it: the record-level rule applies
    Column("caller_id", String(64)),  # the same user id, for "my imports"
    Column("correlation_id", String(200)),
    Column("runner", String(36)),  # the runner that holds the job
    # claims, in a row, of this job from a runner that never let go of it (it died or hung
    # before its lease ran out) with no batch committed in between: a file that brings the
    # importer down fails the job after IMPORTER_MAX_TAKEOVERS instead of doing so forever
    Column("takeovers", Integer, nullable=False, server_default="0"),
    Column("lease_until", DateTime(timezone=True)),  # ... until then
    Column("progress_at", DateTime(timezone=True)),  # the last import.progress event
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    # the file is removed IMPORTER_FILE_RETENTION_DAYS after the job finished; the job, its
    # report and its undo stay (they need only the rows)
    Column("file_removed_at", DateTime(timezone=True)),
    Index("ix_import_jobs_status", "status", "lease_until"),
    Index("ix_import_jobs_finished", "finished_at"),
    Index("ix_import_jobs_created", "created_at", "id"),
    Index("ix_import_jobs_owner", "caller_id", "created_at"),
)

rows = Table(
    "import_rows", metadata,
    Column("job_id", String(36), primary_key=True),
    Column("row", Integer, primary_key=True),  # the row number in the file
    # created, updated, unchanged, skipped, failed
    Column("status", String(10), nullable=False),
    Column("client_id", String(36)),
    Column("reason", String(40)),
    Column("errors", JSON),  # [{column, field, message}]
    Column("values", JSON),  # the row as in the file (kept for failed and skipped rows)
    Column("ico", String(20)),  # the keys rows of one file are told apart by
    Column("email", String(254)),
    Index("ix_import_rows_status", "job_id", "status", "row"),
)

templates = Table(
    "import_templates", metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(120), nullable=False),
    Column("mapping", JSON, nullable=False),  # {heading: target}
    Column("mode", String(10)),
    Column("sheet", String(120)),
    Column("version", Integer, nullable=False),
    Column("created_by", String(200)),
    Column("creator_id", String(64)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("deleted_at", DateTime(timezone=True)),
    Index("ix_import_templates_name", "name"),
)
