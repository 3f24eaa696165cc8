"""indexes for a register of a million clients (PostgreSQL; issue 9's benchmark): the
folded name in byte order, which the ranked search walks (a common word's first page
without sorting all its matches); the list's filters in one narrow partial index, from
which a filter's `total` is counted without reading the table; the tags, for the tag
filter. And a larger statistics sample of the search text, from which the planner tells a
common word (walk the name index) from a rare one (take its few matches from the trigram
index): with the default sample a word in 2 % of the clients was now and then taken for
a rare one, and its first page sorted from all of its 20,000 matches

SQLite needs none of them: its default order is bytes already, and it holds small
registers.

Revision ID: 0011
Revises: 0010
"""
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_clients_name_c": 'ON clients ((name_folded COLLATE "C"), id)',
    # the city filter is a prefix (LIKE 'brno%'): pattern_ops serves it whatever the
    # database's collation; the columns the other filters compare follow
    "ix_clients_filters": "ON clients (city varchar_pattern_ops, relationship, category, "
                          "owner_id, registry_status, vat_payer) WHERE archived_at IS NULL",
    "ix_clients_tags": "ON clients USING gin ((tags::jsonb) jsonb_path_ops) "
                       "WHERE archived_at IS NULL",
}


SEARCH_STATISTICS = 500  # histogram entries of search_text (PostgreSQL's default: 100)


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        for name, definition in INDEXES.items():
            op.execute(f"CREATE INDEX {name} {definition}")
        op.execute("ALTER TABLE clients ALTER COLUMN search_text SET STATISTICS "
                   f"{SEARCH_STATISTICS}")
        op.execute("ANALYZE clients")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE clients ALTER COLUMN search_text SET STATISTICS -1")
        for name in INDEXES:
            op.execute(f"DROP INDEX IF EXISTS {name}")
