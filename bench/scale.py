"""The client register at scale (issue 9, "Speed"): generated Czech clients
(bench/client_data.py) loaded into PostgreSQL (bench/client_loader.py), the clients
service and the gateway (gunicorn) in front of them, and each read measured through the
gateway next to its floor, the same SQL run directly (bench/sql_floor.py):

- name search (`?q=`): a varied set of what people type (the beginning of a name,
  a name without diacritics, an IČO with spaces, a phone in any format, an e-mail,
  a contact person, common words), asked in turn at a fixed rate (open loop);
- filters with `include_total=true`, the first page of the list, pages of the duplicate
  report, the same way;
- the export (CSV, XLSX) of the clients of a filter (about a tenth of them: 100,000 of
  a million), streamed, timed end to end, the gateway's memory read after it."""
import time
from dataclasses import dataclass
from urllib.parse import urlencode

import requests

from crm_common.pagination import values_cursor
from crm_common.testing import TEST_ADMIN_TOKEN

from clients_service.search import fold

from . import client_data
from .client_data import CHUNK
from .http_load import FixedRate, fixed_rate, percentile
from .procfs import tree_peak_memory_mib
from .report import LOWER, SCALE_SECTION, Metric
from .sampling import metric
from .sql_floor import (EXPORT_PAGE, Capture, Floor, Statements, duplicate_statements,
                        export_statements, list_statements)

LIST = "/api/v1/clients"
SEARCH = "name search (`?q=`)"
FILTER = "filters with `include_total=true`"
FIRST_PAGE = "first page of the list"
DUPLICATES = "a page of the duplicate report"
# about a tenth of the clients: Prague's customers
EXPORT_FILTER = {"city": "praha", "relationship": "customer"}
FORMATS = ("csv", "xlsx")
FILTERS = [  # what a sales team filters by, each with the total
    {"city": "Brno"}, {"city": "plzen", "relationship": "customer"},
    {"relationship": "prospect", "category": "A"}, {"owner_id": "rep-07"},
    {"tag": "VIP"}, {"vat_payer": "true", "city": "ostrava"},
    {"q": "stavby", "city": "praha"}, {"registry_status": "pending", "category": "B"}]
# where the duplicate report's pages start: its first page and three further in
DUPLICATE_CURSORS = [None, values_cursor("email", "k"), values_cursor("name", "m"),
                     values_cursor("phone", "+4207")]
COMMON_WORDS = ["novak", "Dvořáková", "stavby", "elektro", "praha", "jana"]


def search_queries(count: int, seed: int = client_data.SEED) -> list[str]:
    """What people type into the search, from clients that exist: the first, a middle
    and the last chunk's first companies give a query of each kind, a few common words
    are asked besides."""
    chunks = sorted({0, (count // CHUNK) // 2, max(0, (count - 1) // CHUNK)})
    companies = [item for chunk in chunks for item in [
        item for item in client_data.chunk_clients(chunk, count, seed)
        if item.client["kind"] == "company" and item.duplicate_of is None
        and item.client.get("ico")][:3]]
    queries = []
    for n, item in enumerate(companies):
        client, contact = item.client, item.contacts[n % 2]
        words = client["name"].split()
        ico = client["ico"]
        queries += [
            fold(words[0])[:5],  # the beginning of a name
            " ".join(words[:2]),  # its first words, diacritics and all
            fold(" ".join(words[:2])),  # without diacritics
            f"{ico[:3]} {ico[3:5]} {ico[5:]}",  # IČO with spaces
            client["phones"][0]["value"],  # a phone as it was typed
            client["emails"][0]["value"],
            f"{contact['first_name']} {contact['last_name']}",
        ]
    return queries + COMMON_WORDS


def latency_paths(count: int, seed: int = client_data.SEED) -> dict[str, list[str]]:
    """label -> the gateway paths asked in turn."""
    return {
        SEARCH: [f"{LIST}?{urlencode({'q': q})}" for q in search_queries(count, seed)],
        FILTER: [f"{LIST}?{urlencode(dict(f, include_total='true'))}" for f in FILTERS],
        FIRST_PAGE: [LIST],
        DUPLICATES: [f"{LIST}/duplicates" + (f"?{urlencode({'cursor': c})}" if c else "")
                     for c in DUPLICATE_CURSORS],
    }


def export_path(file_format: str) -> str:
    return f"{LIST}/export?{urlencode(dict(EXPORT_FILTER, format=file_format))}"


@dataclass
class Captured:
    """The floor's statements: per label each path's, and the export's."""
    latency: dict[str, list[Statements]]
    export: Statements
    exported: int  # clients in the export


def capture(url: str, paths: dict[str, list[str]]) -> Captured:
    """What the service runs for each request, run once here (not timed)."""
    taker = Capture(url)
    try:
        latency = {label: [(duplicate_statements if label == DUPLICATES
                            else list_statements)(taker, path) for path in label_paths]
                   for label, label_paths in paths.items()}
        export, exported = export_statements(taker, export_path("csv"))
    finally:
        taker.close()
    return Captured(latency, export, exported)


@dataclass
class FloorRun:
    latencies_ms: dict[str, list[float]]  # label -> sorted
    export_seconds: float

    def percentile(self, label: str, q: float) -> float:
        return percentile(self.latencies_ms[label], q)

    def __str__(self):
        return "; ".join([f"{label}: p50 {self.percentile(label, 50):.1f} ms, p99 "
                          f"{self.percentile(label, 99):.1f} ms" for label in self.latencies_ms]
                         + [f"export {self.export_seconds:.1f} s"])


def floor(url: str, captured: Captured, repeats: int) -> FloorRun:
    runner = Floor(url)
    try:
        return FloorRun({label: runner.latencies_ms(statements, repeats)
                         for label, statements in captured.latency.items()},
                        runner.seconds(captured.export))
    finally:
        runner.close()


@dataclass
class Export:
    seconds: float
    rows: int  # CSV: lines after the header; XLSX: not counted (0)
    megabytes: float

    def __str__(self):
        return f"{self.seconds:.1f} s, {self.megabytes:.1f} MB"


def export(base_url: str, file_format: str, expected: int) -> Export:
    """The file, streamed and thrown away as it comes, end to end."""
    started = time.monotonic()
    size = lines = 0
    with requests.get(base_url + export_path(file_format), stream=True, timeout=300,
                      headers={"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"}) as answer:
        answer.raise_for_status()
        for chunk in answer.iter_content(chunk_size=256 * 1024):
            size += len(chunk)
            lines += chunk.count(b"\n")
    seconds = time.monotonic() - started
    rows = lines - 1 if file_format == "csv" else 0
    if file_format == "csv" and rows != expected:
        raise RuntimeError(f"the CSV export has {rows} clients, not {expected}")
    return Export(seconds, rows, size / 1e6)


@dataclass
class ProjectRun:
    fixed: dict[str, FixedRate]
    exports: dict[str, Export]
    gateway_mib_before_exports: float  # its VmHWM after the latency runs

    def __str__(self):
        return "; ".join([f"{label}: {run}" for label, run in self.fixed.items()] +
                         [f"{f} export {run}" for f, run in self.exports.items()])


def project(base_url: str, paths: dict[str, list[str]], rate: float, seconds: float,
            exported: int, gateway_pid: int) -> ProjectRun:
    """Each set of requests at `rate` for `seconds`, then the exports."""
    fixed = {}
    for label, label_paths in paths.items():
        urls = [base_url + path for path in label_paths]
        fixed_rate(urls, 2, 1, TEST_ADMIN_TOKEN)  # warm-up, not counted
        fixed[label] = fixed_rate(urls, rate, seconds, TEST_ADMIN_TOKEN)
    before = tree_peak_memory_mib(gateway_pid)
    return ProjectRun(fixed, {f: export(base_url, f, exported) for f in FORMATS}, before)


def metrics(count: int, floor_runs, runs, captured: Captured, memory: dict[str, float],
            loaded) -> list[Metric]:
    """The section's rows: each latency's p50 and p99 next to its floor, the exports, the
    load, the memory."""
    section = {"section": SCALE_SECTION}
    n = f"{count:,} clients"
    rows = []
    targets = {SEARCH: {"p50": 50, "p99": 200}, FILTER: {"p50": 200},
               FIRST_PAGE: {"p50": 30}}
    for label, statements in captured.latency.items():
        for q in ("p50", "p99"):
            rows.append(metric(
                f"{label} among {n}: {q}", "ms", runs, lambda r, label=label, q=q:
                getattr(r.fixed[label], f"{q}_ms"), floor_runs,
                lambda f, label=label, q=q: f.percentile(label, int(q[1:])), better=LOWER,
                floor_name="the same SQL, directly", target=targets.get(label, {}).get(q),
                target_on="value", note=_note(label, statements, runs) if q == "p50" else None,
                **section))
    # the bound is for 100,000 clients: a smaller export (QUICK) has none
    export_target = 15 if captured.exported >= 100_000 else None
    for file_format in FORMATS:
        rows.append(metric(
            f"export of {captured.exported:,} of the {n} ({file_format.upper()}, "
            "end to end)", "s", runs, lambda r, f=file_format: r.exports[f].seconds,
            floor_runs, lambda f: f.export_seconds, better=LOWER,
            floor_name="the SQL of its pages, directly", target=export_target,
            target_on="value",
            note=f"`{export_path(file_format)}`, {runs[-1].result.exports[file_format]}"
            f"; pages of {EXPORT_PAGE} newest first", **section))
    rows.append(Metric(f"loading the {n} (generated, COPY, indexes)",
                       loaded.total_seconds, "s", better=LOWER, note=str(loaded), **section)
                if loaded else
                Metric(f"loading the {n}: a kept database reused (BENCH_SCALE_KEEP)", 0, "s",
                       better=LOWER, **section))
    memory = {"gateway before the first export": runs[0].result.gateway_mib_before_exports,
              **memory}
    rows += [Metric(f"peak memory (VmHWM) of {name}", mib, "MiB", better=LOWER, **section)
             for name, mib in memory.items()]
    return rows


def _note(label: str, statements: list[Statements], runs) -> str | None:
    """What the set asked, and its slowest requests in the last run."""
    if len(statements) == 1:
        return None
    slowest = runs[-1].result.fixed[label].slowest[:3]
    totals = [s.total for s in statements if s.total is not None]
    return (f"{len(statements)} requests in turn"
            + (f" (totals {min(totals):,} to {max(totals):,})" if totals else "")
            + "; slowest in the last run: " + ", ".join(
                f"`{statements[place].path}` {ms:.0f} ms" for ms, place in slowest))
