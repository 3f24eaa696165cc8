"""`make bench` (`python -m bench`; `make bench QUICK=1` for a short run): every path of the
plumbing next to its raw py-amqp floor, both measured in this run, in a private vhost, and
the client register at scale next to its SQL.

Some phases only: `python -m bench scale` (`make bench PHASES=scale`, BENCH_PHASES=scale;
`make bench PHASES=imports` for the client import of issue 12, `PHASES=registry` for the
bulk ARES refresh of issue 13);
the phases are those of settings.PHASES. Writes var/bench/results.json and
docs/benchmarks.md (see bench/report.py for the fields; a run of some phases keeps the
others' figures there).
"""
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
from importlib.metadata import version
from pathlib import Path

from crm_common.testing import create_vhost, delete_vhost

from . import floors, report
from .databases import Databases
from .phases import Phases
from .procfs import machine
from .settings import PHASES, Sizes, quick

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "var" / "bench" / "results.json"
DOC = ROOT / "docs" / "benchmarks.md"


def versions(amqp_uri: str, databases: Databases) -> dict:
    return {"python": platform.python_version(), "rabbitmq": floors.broker_version(amqp_uri),
            "postgresql": databases.postgres_version(),
            **{name.lower(): version(name) for name in
               ("nameko", "amqp", "kombu", "SQLAlchemy")}}


def chosen_phases() -> list[str]:
    """The phases named on the command line or in BENCH_PHASES; all of them by default."""
    named = sys.argv[1:] or [p for p in os.environ.get("BENCH_PHASES", "").split(",") if p]
    unknown = sorted(set(named) - set(PHASES))
    if unknown:
        sys.exit(f"bench: no phase {', '.join(unknown)} (phases: {', '.join(PHASES)})")
    return [phase for phase in PHASES if phase in named] or list(PHASES)


def main() -> None:
    names = chosen_phases()
    sizes = Sizes.from_env()
    started, started_at = time.monotonic(), report.now()
    amqp_uri, vhost = create_vhost("crm-bench")
    tmp = Path(tempfile.mkdtemp(prefix="crm-bench-"))
    databases = Databases(tmp)
    try:
        run = {"time": started_at, "machine": machine(), "cpu_count": os.cpu_count(),
               "versions": versions(amqp_uri, databases),
               "command": os.environ.get("BENCH_COMMAND") or " ".join(
                   ["python -m bench", *sys.argv[1:]]),
               "quick": quick(), "sizes": sizes.describe(),
               "scale_sizes": sizes.describe_scale(),
               "import_sizes": sizes.describe_imports(), "import_rows": sizes.import_rows,
               "registry_clients": sizes.registry_clients,
               "http_seconds": sizes.http_seconds}
        print(f"bench: {run['sizes']}", file=sys.stderr)
        phases = Phases(amqp_uri, tmp, databases, sizes)
        metrics, run["errors"] = [], []
        for phase in (getattr(phases, name) for name in names):
            try:  # one broken path must not cost the figures of the others
                metrics += phase()
            except Exception as exc:  # noqa: BLE001 - reported, and the exit status says so
                traceback.print_exc()
                run["errors"].append(f"{phase.__name__}: {type(exc).__name__}: "
                                     f"{str(exc).splitlines()[0] if str(exc) else ''}")
    finally:
        databases.close()
        delete_vhost(vhost)
        shutil.rmtree(tmp, ignore_errors=True)
    run["seconds"] = round(time.monotonic() - started, 1)
    loads = [m.load_average[0] for m in metrics] or [os.getloadavg()[0]]
    run["load_average_range"] = f"{min(loads):.2f}-{max(loads):.2f}"
    if metrics:  # a run without a figure leaves the figures there are as they are
        entries = report.write_json(RESULTS, metrics, run)
        report.write_markdown(DOC, metrics, run, [
            e for e in entries if e.get("section") == report.IMPORT_SECTION])
    for section in (None, report.SCALE_SECTION, report.IMPORT_SECTION,
                    report.REGISTRY_SECTION):
        if any(m.section == section for m in metrics):
            print("\n".join(report.table(metrics, section) + [""] +
                            report.memory_table(metrics, section)))
    print(f"{len(metrics)} figures in {run['seconds']:.0f} s" + (
        f"; written to {RESULTS.relative_to(ROOT)} and {DOC.relative_to(ROOT)}" if metrics
        else ""), file=sys.stderr)
    if run["errors"]:
        sys.exit("bench: failed: " + "; ".join(run["errors"]))


if __name__ == "__main__":
    main()
