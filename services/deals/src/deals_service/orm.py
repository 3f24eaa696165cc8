"""Tables of the deals database. For now only the outbox and inbox (from crm_common);
pipelines, stages and deals arrive with the pipeline issue."""
from sqlalchemy import MetaData

metadata = MetaData()
