"""The ARES service's own tables: the lookup cache, the lookup queue, refresh jobs, the
clients watched for the scheduled refresh and the shared throttle."""
from sqlalchemy import (JSON, Boolean, Column, DateTime, Float, Integer, MetaData, String,
                        Table, Text, UniqueConstraint, false)

metadata = MetaData()

# One row per IČO: the last answer of the register (found or not found) and until when
# it may be reused. Repeating the same query is what the ministry blocks clients for.
# Rows outlive `expires_at`: a refresh compares the new answer with the last one.
lookup_cache = Table(
    "lookup_cache", metadata,
    Column("ico", String(8), primary_key=True),
    Column("status", String(20), nullable=False),
    Column("record", JSON),
    Column("raw", JSON),
    Column("detail", Text),
    Column("fetched_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

# Every lookup owed to a client, until the register answered it (found, not found,
# invalid): new clients, changed IČOs, refreshes and retries after an outage. A
# dispatcher claims what is due (a lease, so replicas never take the same rows and a
# killed one's rows come back), one call for up to 100 IČOs. (The table keeps its
# first name, from when it held retries only.)
refresh_queue = Table(
    "refresh_queue", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ico", String(8), nullable=False, index=True),
    Column("client_id", String(36), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, index=True),
    Column("last_error", Text),
    Column("correlation_id", String(64)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("causation_id", String(64)),
    # created | updated | refresh | scheduled
    Column("reason", String(20), nullable=False, server_default="created"),
    Column("bypass_cache", Boolean, nullable=False, server_default=false()),
    # events only when the register's data changed (scheduled and bulk refreshes)
    Column("quiet", Boolean, nullable=False, server_default=false()),
    Column("lease_until", DateTime(timezone=True)),
    # the claim holding the row: only its holder records the answer (an erasure or a
    # refresh may have taken the row meanwhile, or the lease ran out)
    Column("claimed_by", String(36)),
    UniqueConstraint("ico", "client_id", name="uq_refresh_ico_client"),
)

# POST /registry-refresh: which clients, and what came of each.
refresh_jobs = Table(
    "refresh_jobs", metadata,
    Column("id", String(36), primary_key=True),
    Column("status", String(20), nullable=False),  # running | completed
    Column("total", Integer, nullable=False),
    Column("done", Integer, nullable=False, server_default="0"),
    Column("changed", Integer, nullable=False, server_default="0"),
    Column("unchanged", Integer, nullable=False, server_default="0"),
    Column("failed", Integer, nullable=False, server_default="0"),
    Column("skipped", JSON),
    Column("requested_by", String(100)),
    Column("caller_id", String(36)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
)

refresh_job_items = Table(
    "refresh_job_items", metadata,
    Column("job_id", String(36), primary_key=True),
    Column("client_id", String(36), primary_key=True),
    Column("ico", String(8), nullable=False, index=True),
    # null while waiting; changed | unchanged | not_found | invalid
    Column("outcome", String(20)),
)

# Clients with an IČO, for the scheduled refresh: each comes due once a period, spread
# over it by its id so a month's refresh is not one burst.
registry_watch = Table(
    "registry_watch", metadata,
    Column("client_id", String(36), primary_key=True),
    Column("ico", String(8), nullable=False),
    Column("next_refresh_at", DateTime(timezone=True), nullable=False, index=True),
    # what the client was last told (a hash of the answer): a quiet lookup publishes
    # only an answer that differs from it
    Column("fingerprint", String(64)),
)

# The token bucket every replica shares (ARES_RATE_PER_MINUTE is one budget for all).
throttle_buckets = Table(
    "throttle_buckets", metadata,
    Column("name", String(40), primary_key=True),
    Column("tokens", Float, nullable=False),
    Column("stamp", Float, nullable=False),  # UNIX time of the last refill
)
