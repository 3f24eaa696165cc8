"""The section of docs/benchmarks.md on the client import of issue 12 (bench/imports.py):
its own tables, from every import figure in var/bench/results.json (the setups a run did
not measure keep the figures of the last run that did), each with its load average and
when it was measured."""
from .report import (IMPORT_CPU_PREFIX, IMPORT_HEADING, IMPORT_SECTION, Metric, _met,
                     _number, _target, is_memory, metric_of)

HOW = (
    "The file: `bench/imports.py` writes the rows of `bench/client_data.py`'s generated Czech "
    "clients (valid IČOs, DIČ of the VAT payers, e-mails, phones as people type them, "
    "addresses, categories; near-duplicates and repeated keys left out, so that every row "
    "is a new client) in ten columns, `Název`, `IČO` (a number, as Excel keeps it), `DIČ`, "
    "`E-mail`, `Telefon`, `Ulice`, `Město`, `PSČ`, `Kategorie`, `Poznámka`, as XLSX "
    "(openpyxl, write-only) and as CSV (UTF-8 with a BOM, `;`), the same rows in both; kept "
    "in `var/bench/imports/` for the next run. Each import gets a fresh stack (`make run`'s "
    "processes: gunicorn gateway and one process per service, product defaults: batches of "
    "500 rows, the importer polling every second) on fresh databases, so every import meets "
    "an empty register and each process's VmHWM is that import's. Timed: from the first "
    "byte of `POST /api/v1/imports` (multipart) to the answer of `GET /api/v1/clients?q=` "
    "with the last row's name that lists it, the job polled every 0.25 s in between; then "
    "checked: the job counts every row created and `include_total` counts that many "
    "clients. \"Every service\" also runs deals, activities and ares with the fake ARES: "
    "the events of the import (a `client.created` per row, timeline entries, ARES lookups "
    "of the IČOs) load the same two cores, as they do in production; \"importer and "
    "clients only\" is the import's own path. The floor, taken alternately with the "
    "imports in the same run: the importer's own reading code (`reading.open_table`, then "
    "every row of `Table.rows()`) on the same file in a fresh process. CPU seconds: utime + "
    "stime from /proc of each process over the timed window (the broker's include what "
    "other users of the shared broker did meanwhile).")


def section(entries: list[dict]) -> list[str]:
    """The section from results.json's import entries (each a metric with its `run`)."""
    entries = [e for e in entries if e.get("section") == IMPORT_SECTION]
    if not entries:
        return []
    metrics = [metric_of(e) for e in entries]
    runs = {e["name"]: e.get("run", {}) for e in entries}
    commands = sorted({f"`{r['command']}` on {r['time']}" for r in runs.values()
                       if r.get("command")})
    timed = [m for m in metrics if not is_memory(m) and not m.name.startswith(IMPORT_CPU_PREFIX)]
    memory = [m for m in metrics if is_memory(m)]
    cpu = [m for m in metrics if m.name.startswith(IMPORT_CPU_PREFIX)]
    notes = [f"- {m.name}: {m.note}" for m in timed if m.note]
    return [
        IMPORT_HEADING, "",
        "Issue 12: a 100,000-row XLSX of 10 columns from upload to every client stored and "
        "searchable in at most 30 s on this machine, CSV at least as fast, the importer's "
        "peak memory under 300 MB. Measured by " + "; ".join(commands) + ". Only this "
        "part: `make bench PHASES=imports` (`QUICK=1`: 20,000 rows; `BENCH_IMPORT_ROWS=...`; "
        "`BENCH_IMPORT_SETUPS=sqlite,postgresql,sqlite-core,postgresql-core`, default "
        "`sqlite`: a run of some setups keeps the other setups' figures below; "
        "`BENCH_IMPORT_ROUNDS=...`, default 1: every import is minutes long).", "",
        HOW, "",
        "| path | project | floor | ratio | target | met | load (1, 5, 15 min) |",
        "|---|---|---|---|---|---|---|",
        *[_row(m) for m in timed], "",
        "| process, during the import | VmHWM MiB | target | met | load (1 min) |",
        "|---|---|---|---|---|",
        *[f"| {m.name.removeprefix('peak memory (VmHWM) of ')} | {m.value:.0f} | "
          f"{_target(m)} | {_met(m)} | {m.load_average[0]:.2f} |" for m in memory], "",
        *_cpu_lines(cpu),
        *(["Notes:", "", *notes, ""] if notes else []),
        FINDINGS,
    ]


def _row(m: Metric) -> str:
    floor = "—" if m.floor is None else \
        f"{_number(m.floor, m.floor_unit or m.unit)} ({m.floor_name})"
    ratio = "—" if m.ratio is None else f"{m.ratio:.2f}" if m.ratio >= 0.1 else \
        f"{m.ratio:.2g}"
    load = ", ".join(f"{x:.2f}" for x in m.load_average)
    return (f"| {m.name} | {_number(m.value, m.unit)} | {floor} | {ratio} | {_target(m)} | "
            f"{_met(m)} | {load} |")


def _cpu_lines(cpu: list[Metric]) -> list[str]:
    """Per import (format and setup): each process's CPU seconds, busiest first."""
    if not cpu:
        return []
    by_run: dict[str, list[Metric]] = {}
    for m in cpu:
        process, run = m.name.removeprefix(IMPORT_CPU_PREFIX).split(" (", 1)
        by_run.setdefault(run.rstrip(")"), []).append(Metric(process, m.value, "s",
                                                             note=m.note))
    rows = [f"| {run} | {items[0].note} | " +
            ", ".join(f"{m.name} {m.value:.0f}" for m in items) + " |"
            for run, items in by_run.items()]
    return ["Where the CPU went, in the fastest import of each row above (CPU seconds of "
            "each process, utime + stime from /proc; PostgreSQL's backends are not "
            "listed):", "",
            "| import | wall time, machine | CPU seconds per process |", "|---|---|---|",
            *rows, ""]


FINDINGS = """\
"""
