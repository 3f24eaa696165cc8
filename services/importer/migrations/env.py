from alembic import context

from importer_service.orm import metadata
from crm_common.migrate import run_env

run_env(context, metadata)
