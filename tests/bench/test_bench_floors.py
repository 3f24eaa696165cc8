"""The benchmark harness (bench/): its floor programs against the real broker with tiny
sizes, and the results it writes."""
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/ (importlib mode)
from bench import floors, report, rpc, settings  # noqa: E402
from bench.payloads import outbox_payload  # noqa: E402
from bench.report import LOWER, Metric  # noqa: E402


@pytest.mark.integration
def test_floor_programs_give_positive_rates(amqp_uri):
    body = outbox_payload()
    assert floors.confirms_floor(amqp_uri, body, 300) > 0
    assert floors.publish_consume_floor(amqp_uri, body, 300) > 0
    assert floors.backlog_floor(amqp_uri, [outbox_payload(n) for n in range(20)], 300) > 0
    raw = rpc.floor(amqp_uri, 50)
    assert raw.p50_ms > 0 and raw.p95_ms >= raw.p50_ms and raw.server_cpu_ms_per_call >= 0


RUN = {"time": "2026-01-01 00:00:00 UTC", "seconds": 12.0, "command": "make bench QUICK=1",
       "cpu_count": 2, "load_average_range": "0.50-1.00", "sizes": "tiny",
       "machine": {"cpu": "test cpu", "cpu_count": 2, "memory_gib": 1.0, "kernel": "6"},
       "versions": {"python": "3", "rabbitmq": "3.10", "postgresql": "15", "nameko": "2.14.1",
                    "amqp": "5", "kombu": "5", "sqlalchemy": "2"}}


def test_ratio_reads_project_over_floor_and_targets_point_the_right_way():
    throughput = Metric("relay", 600.0, "events/s", floor=1000.0, target=0.5)
    assert throughput.ratio == pytest.approx(0.6) and throughput.met is True
    latency = Metric("rpc", 3.0, "ms", floor=1.0, better=LOWER, target=2.0)
    assert latency.ratio == pytest.approx(3.0) and latency.met is False
    absolute = Metric("bulk", 3000.0, "clients/s", floor=5000.0, target=2500,
                      target_on="value")
    assert absolute.met is True
    memory = Metric("peak memory (VmHWM) of clients", 80.0, "MiB", better=LOWER)
    assert memory.ratio is None and memory.met is None


def test_results_json_is_a_list_of_metrics_with_the_run(tmp_path):
    metrics = [Metric("relay", 600.0, "events/s", floor=1000.0, target=0.5,
                      samples=[500.0, 600.0], floor_samples=[900.0, 1000.0]),
               Metric("peak memory (VmHWM) of clients after x", 80.0, "MiB", better=LOWER)]
    path = tmp_path / "bench" / "results.json"
    report.write_json(path, metrics, RUN)
    entries = json.loads(path.read_text())
    assert isinstance(entries, list) and len(entries) == 2
    relay = entries[0]
    for key in ("name", "value", "unit", "floor", "ratio", "target", "met", "load_average"):
        assert key in relay
    assert relay["ratio"] == 0.6 and relay["met"] is True and len(relay["load_average"]) == 3
    assert relay["run"]["versions"]["rabbitmq"] == "3.10"
    text = report.markdown(metrics, RUN)
    assert "| relay | 600 events/s | 1,000 events/s" in text
    assert "| clients after x | 80 |" in text and "## Before" in text


def test_quick_sizes_are_a_quarter_or_less(monkeypatch):
    monkeypatch.setenv("BENCH_QUICK", "1")
    quick = settings.Sizes.from_env()
    monkeypatch.setenv("BENCH_QUICK", "")
    full = settings.Sizes.from_env()
    for size in ("events", "backlog", "bulk", "rpc_calls"):
        assert getattr(quick, size) * 4 <= getattr(full, size)


def test_backlog_floor_takes_the_handlers_own_prefetch():
    from bench.backlog import handler_prefetch
    assert handler_prefetch() >= 1


def test_a_run_of_some_phases_keeps_the_figures_of_the_others(tmp_path):
    main = Metric("relay", 600.0, "events/s", floor=1000.0, target=0.5)
    scale = Metric("name search p50", 30.0, "ms", floor=15.0, better=LOWER, target=50,
                   target_on="value", section=report.SCALE_SECTION)
    doc, results = tmp_path / "benchmarks.md", tmp_path / "results.json"
    for metrics in ([main], [scale]):  # everything else, then the scale phase alone
        report.write_markdown(doc, metrics, RUN)
        report.write_json(results, metrics, RUN)
    text = doc.read_text()
    assert "| relay | 600 events/s" in text and "| name search p50 | 30 ms" in text
    assert text.index(report.SCALE_HEADING) < text.index("## Where the remaining limits")
    assert {entry["name"] for entry in json.loads(results.read_text())} == {
        "relay", "name search p50"}
    report.write_markdown(doc, [main], RUN)  # a run without the scale phase keeps it
    assert "| name search p50 | 30 ms" in doc.read_text()
    assert doc.read_text().count(report.SCALE_HEADING) == 1
