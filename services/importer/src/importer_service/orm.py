"""Tables of the importer database. For now only the outbox and inbox (from crm_common);
import jobs and row results arrive with the import issue."""
from sqlalchemy import MetaData

metadata = MetaData()
