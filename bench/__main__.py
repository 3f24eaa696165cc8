"""Measures what users feel and what the design rests on, side by side in one run:

- RPC round trip: the gateway's client (crm_common.rpc) against nameko's own standalone proxy,
  calling the same running service;
- event publishing: the outbox relay (commit + publish with confirms) against nameko's
  standalone event dispatcher;
- end to end through the gateway: POST a client with an IČO until its timeline shows
  "Data loaded from ARES" (fake ARES over real HTTP), and bulk creation throughput.

Writes docs/benchmarks.md. Run with `make bench` (needs RabbitMQ).
"""
import os
import platform
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from crm_common.amqp import confirmed_connection, events_exchange
from crm_common.db import make_engine, make_session_factory
from crm_common.messaging import metadata as messaging_metadata
from crm_common.outbox import OutboxRelay
from crm_common.rpc import RpcPool
from crm_common.testing import create_vhost, database_env, delete_vhost, start_stack
from crm_common.uow import UnitOfWork

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "test-admin-token"
N_RPC = int(os.environ.get("BENCH_RPC_CALLS", 500))
N_EVENTS = int(os.environ.get("BENCH_EVENTS", 2000))
N_E2E = int(os.environ.get("BENCH_E2E_CLIENTS", 30))
N_BULK = int(os.environ.get("BENCH_BULK_CLIENTS", 300))


def percentiles(samples):
    samples = sorted(samples)
    pick = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))]  # noqa: E731
    return {"p50": pick(0.5) * 1000, "p95": pick(0.95) * 1000, "mean":
            statistics.fmean(samples) * 1000}


def bench_rpc(amqp_uri):
    from nameko.standalone.rpc import ClusterRpcProxy
    pool = RpcPool(amqp_uri)
    pool.call("clients", "health", {})
    ours = []
    for _ in range(N_RPC):
        t = time.perf_counter()
        pool.call("clients", "health", {})
        ours.append(time.perf_counter() - t)
    theirs = []
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}) as proxy:
        proxy.clients.health()
        for _ in range(N_RPC):
            t = time.perf_counter()
            proxy.clients.health()
            theirs.append(time.perf_counter() - t)
    pool.close()
    return percentiles(ours), percentiles(theirs)


def bench_events(amqp_uri, tmp):
    from nameko.standalone.events import event_dispatcher
    results = {}
    for dialect, url in (("sqlite", f"sqlite:///{tmp / 'bench-outbox.db'}"),):
        engine = make_engine(url)
        messaging_metadata.create_all(engine)
        factory = make_session_factory(engine)
        relay = OutboxRelay(engine, "bench", amqp_uri, batch_size=500)
        t = time.perf_counter()
        for i in range(N_EVENTS):  # one transaction per event, as a service does
            with UnitOfWork(factory, "bench") as uow:
                uow.emit("bench.happened", str(i), {"n": i})
                uow.commit()
        committed = time.perf_counter() - t
        t = time.perf_counter()
        assert relay.drain() == N_EVENTS
        published = time.perf_counter() - t
        results[dialect] = (N_EVENTS / committed, N_EVENTS / published,
                            N_EVENTS / (committed + published))
        engine.dispose()
    with confirmed_connection(amqp_uri) as conn:  # nameko's dispatcher does not declare it
        events_exchange("benchnameko")(conn.channel()).declare()
    dispatch = event_dispatcher({"AMQP_URI": amqp_uri})
    t = time.perf_counter()
    for i in range(N_EVENTS):
        dispatch("benchnameko", "bench.happened", {"n": i})
    nameko_rate = N_EVENTS / (time.perf_counter() - t)
    return results, nameko_rate


def bench_e2e(stack):
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {TOKEN}"
    base = stack.url + "/api/v1"
    icos = ["25063677", "68407700", "01603094"]
    create, enrich = [], []
    for i in range(N_E2E):
        t = time.perf_counter()
        client = http.post(f"{base}/clients", json={"name": f"c{i}", "ico": icos[i % 3]}).json()
        create.append(time.perf_counter() - t)
        while True:
            items = http.get(f"{base}/clients/{client['id']}/timeline").json()["items"]
            if any(e["title"] == "Data loaded from ARES" for e in items):
                break
            if time.perf_counter() - t > 30:
                raise RuntimeError("enrichment did not arrive in 30 s")
            time.sleep(0.005)
        enrich.append(time.perf_counter() - t)

    def one(i):
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {TOKEN}"
        response = s.post(f"{base}/clients", json={"name": f"bulk {i}"})
        assert response.status_code == 201, response.text

    t = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(N_BULK)))
    bulk = N_BULK / (time.perf_counter() - t)
    return percentiles(create), percentiles(enrich), bulk


def main():
    amqp_uri, vhost = create_vhost("crm-bench")
    tmp = Path(tempfile.mkdtemp(prefix="crm-bench-"))
    stack = start_stack(tmp, amqp_uri, database_env("sqlite", tmp), fake_ares=True)
    try:
        ours, nameko_rpc = bench_rpc(amqp_uri)
        relay, nameko_events = bench_events(amqp_uri, tmp)
        create, enrich, bulk = bench_e2e(stack)
    finally:
        stack.stop()
        delete_vhost(vhost)
    sqlite = relay["sqlite"]
    lines = [
        "# Benchmarks", "",
        "Measured by `make bench` (`python -m bench`, code in `bench/__main__.py`), all parts in "
        "one run on one machine, loopback RabbitMQ, services on SQLite. "
        f"Python {platform.python_version()}, {os.cpu_count()} cores, "
        f"{time.strftime('%Y-%m-%d')}. These machines are noisy: compare figures of one run "
        "with each other, not across runs.", "",
        "## RPC round trip (`clients.health`, serial calls)", "",
        "| client | p50 ms | p95 ms | mean ms |", "|---|---|---|---|",
        f"| gateway's `crm_common.rpc.RpcPool` | {ours['p50']:.2f} | {ours['p95']:.2f} | "
        f"{ours['mean']:.2f} |",
        f"| nameko `ClusterRpcProxy` (same service) | {nameko_rpc['p50']:.2f} | "
        f"{nameko_rpc['p95']:.2f} | {nameko_rpc['mean']:.2f} |", "",
        f"## Publishing events ({N_EVENTS} events)", "",
        "| path | events/s |", "|---|---|",
        f"| outbox: commit, one transaction per event (SQLite WAL) | {sqlite[0]:.0f} |",
        f"| outbox: relay publishes with publisher confirms | {sqlite[1]:.0f} |",
        f"| outbox: both together | {sqlite[2]:.0f} |",
        f"| nameko standalone `event_dispatcher` (no outbox, no durability) | "
        f"{nameko_events:.0f} |", "",
        "## Through the gateway (all services running, fake ARES over HTTP)", "",
        "| what | p50 ms | p95 ms | mean ms |", "|---|---|---|---|",
        f"| `POST /api/v1/clients` answers ({N_E2E} clients) | {create['p50']:.1f} | "
        f"{create['p95']:.1f} | {create['mean']:.1f} |",
        f"| POST until the timeline shows \"Data loaded from ARES\" | {enrich['p50']:.1f} | "
        f"{enrich['p95']:.1f} | {enrich['mean']:.1f} |", "",
        f"Bulk creation, 8 concurrent HTTP clients, {N_BULK} clients: **{bulk:.0f} clients/s**.",
        "",
    ]
    out = ROOT / "docs" / "benchmarks.md"
    out.write_text("\n".join(lines))
    print("\n".join(lines))
    print(f"written to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
