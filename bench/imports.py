"""Client import (issue 12): a spreadsheet of generated Czech clients uploaded through the
gateway until every row is a stored, searchable client, next to the time it takes only to
parse the same file (the floor).

The file: `rows` clients of bench/client_data.py in the ten columns people export (COLUMNS),
IČO a number as Excel keeps it; written as XLSX (openpyxl, write-only) and as CSV (UTF-8 with
a BOM, `;`, as Czech Excel saves it), the same rows in both. Near-duplicates and rows whose
IČO (or, without one, e-mail) an earlier row has are left out, so that every row is a new
client and the register ends with exactly `rows` of them.

The project (`import_file`): a fresh stack and fresh databases for every run (so each
import meets the same empty register and each process's VmHWM is this import's), then
`POST /api/v1/imports` with the file, `GET /api/v1/imports/{id}` until `completed`, and the
last row's client found by `GET /api/v1/clients?q=<its name>`: the time from the first
byte of the upload to that answer. Then, untimed: the job's counts and the register's
`include_total` say `rows` created. CPU seconds of each process of the stack and of the
broker (utime + stime from /proc) over the same window.

The floors (`parse`, a fresh process each): `reading.open_table` and every row of
`Table.rows()`, the importer's own reading code; and the same with `values.build_row` for
every row (what the importer does before it sends a batch).
`python -m bench.imports parse FILE [--build]` prints the floor's figures as JSON."""
import csv
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
from openpyxl import Workbook

from crm_common.testing import TEST_ADMIN_TOKEN, start_stack

from . import client_data
from .procfs import CpuAccount, peak_memory_mib, pids_named, tree_peak_memory_mib

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = ("Název", "IČO", "DIČ", "E-mail", "Telefon", "Ulice", "Město", "PSČ", "Kategorie",
           "Poznámka")
POLL = 0.25  # seconds between two GETs of the job
TIMEOUT_PER_ROW = 0.02  # seconds a row may take before the run is given up (50 rows/s)


# -- the files --------------------------------------------------------------------------------

def file_rows(count: int):
    """`count` rows of COLUMNS, each a new client: near-duplicates and repeated keys left
    out (the generator is deterministic: the same count gives the same rows)."""
    seen, made = set(), 0
    for item in client_data.clients(count * 2):
        if made == count:
            return
        client = item.client
        email = client["emails"][0]["value"]
        # the clients service finds a row without an IČO by its e-mail, also among
        # clients with one: every IČO and every e-mail once
        keys = {("email", email.strip().lower())} | \
            ({("ico", client["ico"])} if client["ico"] else set())
        if item.duplicate_of is not None or keys & seen:
            continue
        seen |= keys
        address = client["registered_address"]
        yield [client["name"], int(client["ico"]) if client["ico"] else None,
               client["dic"], email, client["phones"][0]["value"], address["street"],
               address["city"], address["postal_code"], client["category"],
               client.get("description") or client["industry"]]
        made += 1
    raise RuntimeError(f"the generator gave fewer than {count} distinct clients")


@dataclass
class ImportFiles:
    rows: int
    xlsx: Path
    csv: Path
    last_name: str  # the name of the last row's client: searched for at the end

    def describe(self) -> str:
        return (f"{self.rows:,} rows x {len(COLUMNS)} columns: XLSX "
                f"{self.xlsx.stat().st_size / 1e6:.1f} MB, CSV {self.csv.stat().st_size / 1e6:.1f} MB")


def write_files(count: int, directory: Path) -> ImportFiles:
    directory.mkdir(parents=True, exist_ok=True)
    xlsx_path, csv_path = directory / f"klienti-{count}.xlsx", directory / f"klienti-{count}.csv"
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Klienti")
    sheet.append(list(COLUMNS))
    last = None
    with open(csv_path, "w", encoding="utf-8-sig", newline="") as text:
        writer = csv.writer(text, delimiter=";", lineterminator="\r\n")
        writer.writerow(COLUMNS)
        for row in file_rows(count):
            sheet.append(row)
            writer.writerow(["" if value is None else value for value in row])
            last = row
    book.save(xlsx_path)
    return ImportFiles(count, xlsx_path, csv_path, last[0])


FILES_VERSION = 2  # of write_files: kept files of another version are written again


def prepared_files(count: int) -> ImportFiles:
    """The files of `count` rows, kept in var/bench/imports between runs (writing 100,000
    rows takes about a minute)."""
    directory = ROOT / "var" / "bench" / "imports"
    marker = directory / f"klienti-{count}.json"
    version = {"files": FILES_VERSION, "generator": client_data.VERSION,
               "seed": client_data.SEED}
    if marker.exists():
        kept = json.loads(marker.read_text())
        files = ImportFiles(count, directory / f"klienti-{count}.xlsx",
                            directory / f"klienti-{count}.csv", kept["last_name"])
        if kept["version"] == version and files.xlsx.exists() and files.csv.exists():
            return files
    files = write_files(count, directory)
    marker.write_text(json.dumps({"version": version, "last_name": files.last_name}))
    return files


# -- the floors ---------------------------------------------------------------------------------

@dataclass
class Parsed:
    seconds: float  # open_table and every row (and build_row of each, when built)
    rows: int
    peak_memory_mib: float  # the floor process's VmHWM
    built: bool

    def __str__(self):
        return (f"{self.seconds:.2f} s for {self.rows:,} rows "
                f"({'parse + build_row' if self.built else 'parse'}), "
                f"{self.peak_memory_mib:.0f} MiB")


def parse(path: Path, build: bool = False) -> Parsed:
    """The floor, in a fresh process (as the importer reads a file it has not seen)."""
    argv = [sys.executable, "-m", "bench.imports", "parse", str(path)] + \
        (["--build"] if build else [])
    done = subprocess.run(argv, cwd=ROOT, check=True, stdout=subprocess.PIPE)
    return Parsed(**json.loads(done.stdout))


def _parse_here(path: Path, build: bool) -> dict:
    from importer_service import mapping, reading, values
    started = time.monotonic()
    table = reading.open_table(path, path.name)
    by_index = mapping.suggest(table.headers)
    rows = 0
    for number, cells in table.rows():
        if build:
            row = values.build_row(number, cells, table.headers, by_index, (), ())
            if row.problems:
                raise RuntimeError(f"row {number}: {row.problems}")
        rows += 1
    return {"seconds": time.monotonic() - started, "rows": rows,
            "peak_memory_mib": peak_memory_mib(os.getpid()), "built": build}


# -- the project ----------------------------------------------------------------------------------

@dataclass
class ImportRun:
    seconds: float  # first byte of the upload to the last row's client found
    rows: int
    upload_seconds: float  # until the gateway answered 202
    completed_seconds: float  # until the job said completed
    counts: dict
    peak_memory_mib: dict[str, float]  # process -> VmHWM at the end
    cpu_seconds: dict[str, float] = field(default_factory=dict)  # process -> utime + stime
    machine_busy: float = 0.0  # share of all cores busy meanwhile

    @property
    def rate(self) -> float:
        return self.rows / self.seconds

    def __str__(self):
        cpu = ", ".join(f"{name} {s:.0f}" for name, s in sorted(
            self.cpu_seconds.items(), key=lambda item: -item[1]))
        return (f"{self.seconds:.1f} s ({self.rate:,.0f} rows/s; upload "
                f"{self.upload_seconds:.1f} s), importer {self.peak_memory_mib['importer']:.0f} "
                f"MiB, CPU s: {cpu}; machine {self.machine_busy:.0%} busy")


def _session() -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {TEST_ADMIN_TOKEN}"
    return session


def import_file(tmp: Path, amqp_uri: str, db_env: dict, services, path: Path, rows: int,
                last_name: str) -> ImportRun:
    """One import of the file into a stack of its own (`services`, fake ARES when "ares" is
    among them)."""
    stack = start_stack(tmp, amqp_uri, db_env, services=services,
                        fake_ares="ares" in services)
    try:
        watched = {key: proc.pid for key, proc in stack.procs.items()}
        return _run(stack, watched, path, rows, last_name)
    finally:
        stack.stop()


def _run(stack, watched: dict[str, int], path: Path, rows: int, last_name: str) -> ImportRun:
    base, http = stack.url + "/api/v1", _session()
    account = CpuAccount(dict(watched, **{"broker": pid for pid in pids_named("beam.smp")}))
    started = time.monotonic()
    with open(path, "rb") as file:
        answer = http.post(f"{base}/imports", files={"file": (path.name, file)}, timeout=600)
    if answer.status_code != 202:
        raise RuntimeError(f"POST /imports answered {answer.status_code}: {answer.text[:500]}")
    uploaded = time.monotonic()
    job_id, deadline = answer.json()["id"], started + 60 + rows * TIMEOUT_PER_ROW
    while True:
        job = http.get(f"{base}/imports/{job_id}", timeout=60).json()
        if job["status"] == "completed":
            break
        if job["status"] in ("failed", "cancelled", "reverted") or time.monotonic() > deadline:
            raise RuntimeError(f"import {job['status']}: {job.get('error')} after "
                               f"{job.get('rows_done')} of {job.get('rows_total')} rows")
        time.sleep(POLL)
    completed = time.monotonic()
    found = http.get(f"{base}/clients", params={"q": last_name, "limit": 5}, timeout=60)
    found.raise_for_status()
    done = time.monotonic()
    used = account.used()
    busy = used.pop("machine") / ((done - started) * os.cpu_count())
    if last_name not in [client["name"] for client in found.json()["items"]]:
        raise RuntimeError(f"the last row's client {last_name!r} is not found by its name")
    total = http.get(f"{base}/clients", params={"include_total": "true", "limit": 1},
                     timeout=120).json()["total"]
    if job["counts"].get("created") != rows or total != rows:
        raise RuntimeError(f"{rows} rows: the job counts {job['counts']}, the register "
                           f"holds {total} clients")
    memory = {key: tree_peak_memory_mib(pid) for key, pid in watched.items()
              if not key.startswith("fake")}
    return ImportRun(done - started, rows, uploaded - started, completed - started,
                     job["counts"], memory, used, busy)


def main(argv: list[str]) -> None:
    if len(argv) >= 2 and argv[0] == "parse":
        print(json.dumps(_parse_here(Path(argv[1]), "--build" in argv[2:])))
    elif len(argv) == 3 and argv[0] == "files":  # python -m bench.imports files N DIR
        files = write_files(int(argv[1]), Path(argv[2]))
        print(files.describe())
    else:
        sys.exit("usage: python -m bench.imports parse FILE [--build] | files N DIR")


if __name__ == "__main__":
    main(sys.argv[1:])
