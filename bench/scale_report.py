"""The section of docs/benchmarks.md on the client register at scale (bench/scale.py): its
own table and run (it can run alone: `python -m bench scale`), how it was measured, and
what the service does to meet the figures."""
from .report import SCALE_HEADING, SCALE_SECTION, Metric, memory_table, table
from .settings import SCALE_RATE

DATA = (
    "The data: `bench/client_data.py` generates realistic Czech clients, deterministic "
    "(seeded): companies (about 88 %; names of an owner or a brand, a trade and a "
    "qualifier, each unique, with diacritics and a legal form written as people write it) "
    "and sole traders (people, whose names repeat as people's do), valid IČOs (mod 11), "
    "DIČ for VAT payers, addresses in 60 cities weighted by their share of companies "
    "(Prague a fifth), e-mails, phones in every format people type, bank accounts, tags, "
    "owners, two contact persons each; 1.5 % are near-duplicates of an earlier client (the "
    "name written otherwise, the same e-mail or phone, no IČO). `bench/client_loader.py` "
    "migrates a fresh PostgreSQL database to head and COPYs the rows in, each made by the "
    "clients service's own code (its schemas, `new_client_fields`, `new_contact`, the "
    "search columns and duplicate keys; not the history rows and events of the creations), "
    "in parallel chunks, the indexes built once at the end; a million clients make a "
    "database of about 3.7 GB.")

HOW = (
    "Through the gateway (gunicorn with `crm_gateway/gunicorn_conf.py`'s defaults) in "
    "front of one clients service process on that database, authenticated with the "
    "bootstrap admin token. Each latency "
    f"row is `bench/http_load.py`'s open loop at {SCALE_RATE} requests a second, the row's "
    "set of requests asked in turn: for the name search what people type (the beginning of "
    "a name, a name with and without diacritics, an IČO with spaces, a phone as it was "
    "typed, an e-mail, a contact person, common words such as `novak` or `praha`, found in "
    "tens of thousands of clients); filters by city, relationship, category, owner, tag, "
    "VAT, registry status, one with a search; the duplicate report's first page and three "
    "further in. The floor is the SQL the clients service runs for each request (taken "
    "from the service's own handlers with the gateway's arguments), run directly with "
    "psycopg2 on the same database, each request of the set in turn, in the same run. The "
    "export is timed from the request to the last byte of the file; its floor runs the SQL "
    "of all its pages. Where the issue sets one figure (\"under 30 ms\"), it is read as "
    "the p50, as for the card above; the name search has its p50 and p99 targets. The "
    "machine's PostgreSQL keeps its defaults (128 MB of shared buffers): the tables do not "
    "fit, and every row read is a page from the operating system's cache.")

FINDINGS = """\
What the service does for these figures (migration 0011, `Clients._ranked`, the list's
resources; EXPLAIN ANALYZE on the million, PostgreSQL 15):

- **Ranked search.** Ranking every match (`ORDER BY CASE ..., name_folded`) read each one
  from the table: `novak` (47,000 clients, most by a contact person) 300-400 ms, `jana`,
  `praha`, `elektro` 150-200 ms, a bitmap heap scan over 39,000 pages and a top-N sort.
  Each rank is now a query of its own in the order of a new index of the folded name in
  byte order (`ix_clients_name_c`): names starting with the words are a range of it (no
  search needed: the search text starts with the name), the rest is a walk of that index
  that stops when the page is full (`novak`: 1,000 rows read, 9 ms) or, for a rare word,
  the few matches of the trigram index sorted as before. A larger statistics sample of the
  search text (500) lets the planner tell the two apart: with the default one a word in
  2 % of the clients was now and then estimated at 100 rows and sorted from all its matches.
- **Filters' totals.** `include_total` counted with a parallel sequential scan of the
  whole table, 400-600 ms (`city` is a prefix match, which the plain index of the city
  cannot serve outside the C collation). A narrow partial index of the filtered columns
  (`ix_clients_filters`, 12 MB, `city` with `varchar_pattern_ops`) counts them from the
  index alone: `city=Brno` 72,698 clients in 9 ms. Tags got a GIN index (580 -> 190 ms);
  their containment test is rechecked on the table, so a tag on tens of thousands of
  clients still reads each of them.
- **List pages and exports** write each client's resource from its stored values, as the
  batch create does, instead of marshmallow (72 -> 14 µs a client). An export asks the
  clients service for the fields its columns are written from (`list(fields=...)`): 40
  fields a client read (13 of them JSON, each decoded), sent and decoded again were most
  of its time (CSV 13.5 s before). The gateway asks for the next page while it writes the
  current one, and leaves empty XLSX cells out. What stays: the export's SQL (the filter
  checked on each of the table's million rows, newest first), and openpyxl's write-only
  mode at about 90 µs a row in the gateway (measured apart: 87 with lxml installed, 65
  with XlsxWriter; neither worth a dependency).
- **Not changed:** the duplicate report walks the key index in order and looks up each
  key's client for `archived_at` (7,500 keys for a page further in, 75 ms); the tag
  filter's total reads every tagged client.
"""


def section(metrics: list[Metric], run: dict) -> list[str]:
    scale = [m for m in metrics if m.section == SCALE_SECTION]
    if not scale:
        return []
    notes = [f"- {m.name}: {m.note}" for m in scale if m.note]
    return [
        SCALE_HEADING, "",
        f"Measured by `{run['command']}` on {run['time']} ({run['seconds']:.0f} s; load "
        f"average {run['load_average_range']}); {run.get('scale_sizes', run['sizes'])}. "
        "Only this part: `make bench PHASES=scale` (`python -m bench scale`; `QUICK=1` for "
        "50,000 clients, `BENCH_SCALE_CLIENTS=...` for any number; `BENCH_SCALE_KEEP=1` "
        "keeps the loaded database, `crm_scale_<count>`, for the next run, which reuses it "
        "when it holds the same clients).", "",
        DATA, "", HOW, "",
        *table(scale, SCALE_SECTION), "",
        *_rounds(scale), "",
        *memory_table(scale, SCALE_SECTION), "",
        *(["Notes:", "", *notes, ""] if notes else []),
        FINDINGS,
    ]


def _rounds(metrics: list[Metric]) -> list[str]:
    """Every round's figure, where the table shows the best (the noise of a shared machine
    shows here)."""
    rows: dict[str, list[str]] = {}
    for m in metrics:
        if len(m.samples) < 2:
            continue
        if m.name.startswith("export"):  # "export of ... (CSV, end to end)"
            label, which = "export", m.name.rsplit("(", 1)[1].split(",")[0]
        else:  # "<what> among <n> clients: p50"
            label, which = m.name.split(" among ")[0], m.name.rsplit(": ", 1)[1]
        figures = " / ".join(f"{x:,.0f}" if x >= 10 else f"{x:.1f}" for x in m.samples)
        rows.setdefault(label, []).append(f"{which} {figures} {m.unit}")
    return ["Each round (the table shows the best): " + "; ".join(
        f"{label} {', '.join(figures)}" for label, figures in rows.items()) + "."] \
        if rows else []
