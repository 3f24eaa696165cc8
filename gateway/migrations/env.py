from alembic import context

from crm_gateway.accounts.orm import metadata
from crm_common.migrate import run_env

run_env(context, metadata, messaging=False)
