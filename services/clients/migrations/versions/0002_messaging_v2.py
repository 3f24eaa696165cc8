"""messaging v2: partial outbox pending index, indexes for retention

Revision ID: 0002
Revises: 0001
"""
from crm_common.migrate import downgrade_messaging_tables_v2, upgrade_messaging_tables_v2

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    upgrade_messaging_tables_v2()


def downgrade():
    downgrade_messaging_tables_v2()
