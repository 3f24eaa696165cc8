"""The clients service alone, on a real RabbitMQ and database: RPC in, events out."""
import pytest

from crm_common.rpc import RemoteError, RpcPool
from crm_common.testing import (cloud_event, database_env, publish_event, start_stack,
                                wait_until)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def service(request, amqp_uri, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"clients-{request.param}")
    make_pg = request.getfixturevalue("make_postgres_db") if request.param == "postgresql" \
        else None
    stack = start_stack(tmp, amqp_uri, database_env(request.param, tmp, make_pg, ["clients"]),
                        services=["clients"], gateway=False, fake_ares=False)
    pool = RpcPool(amqp_uri)
    yield pool
    pool.close()
    stack.stop()


def test_create_publishes_client_created(service, event_tap, amqp_uri):
    tap = event_tap([("clients.events", "client.*")])
    client = service.call("clients", "create", {"payload": {"name": "Superfaktura",
                                                            "ico": "1569651"}},
                          context={"correlation_id": "corr-clients-1"})
    event = tap.wait_for(lambda e: e["subject"] == client["id"])
    assert event["type"] == "client.created" and event["correlationid"] == "corr-clients-1"
    assert event["data"]["client"]["ico"] == "01569651"


def test_invalid_ico_is_refused_and_nothing_published(service, event_tap):
    tap = event_tap([("clients.events", "#")])
    with pytest.raises(RemoteError) as exc:
        service.call("clients", "create", {"payload": {"name": "X", "ico": "25063678"}})
    assert exc.value.exc_type == "ValidationFailed" and "ico" in exc.value.args_[0]
    marker = service.call("clients", "create", {"payload": {"name": "marker"}})
    tap.wait_for(lambda e: e["subject"] == marker["id"])
    assert [e["data"]["client"]["name"] for e in tap.of_type("client.created")] == ["marker"]


def test_registry_data_is_applied_once(service, event_tap, amqp_uri):
    tap = event_tap([("clients.events", "client.updated")])
    client = service.call("clients", "create", {"payload": {"name": "sad", "ico": "25063677"}})
    event = cloud_event("ares", "ares.lookup_succeeded", "25063677", {
        "client_id": client["id"], "ico": "25063677", "fetched_at": "2026-01-01T10:00:00Z",
        "cached": False, "attempt": 1,
        "record": {"name": "SAD s.r.o.", "dic": "CZ25063677", "vat_payer": True,
                   "legal_form": "112", "nace": ["471"],
                   "registered_address": {"street": "Daminěves 35", "city": "Cítov",
                                          "postal_code": "27704", "country_code": "CZ",
                                          "text": "Daminěves 35, 27704 Cítov"}}})
    publish_event(amqp_uri, "ares", event)
    publish_event(amqp_uri, "ares", event)  # a duplicate delivery
    updated = tap.wait_for(lambda e: e["subject"] == client["id"])
    assert updated["causationid"] == event["id"]
    assert updated["data"]["changes"]["name"]["after"] == "SAD s.r.o."
    stored = wait_until(lambda: service.call("clients", "get", {"client_id": client["id"]}))
    assert stored["vat_payer"] is True and stored["registry"]["status"] == "ok"
    marker = service.call("clients", "create", {"payload": {"name": "m2", "ico": "27074358"}})
    publish_event(amqp_uri, "ares", cloud_event("ares", "ares.lookup_failed", "27074358", {
        "client_id": marker["id"], "ico": "27074358", "reason": "unavailable",
        "detail": "x", "will_retry": True, "attempt": 1, "next_attempt_at": None}))
    tap.wait_for(lambda e: e["subject"] == marker["id"])
    assert len([e for e in tap.of_type("client.updated") if e["subject"] == client["id"]]) == 1


def _both_at_once(calls):
    """Run the calls in threads released together; (results, errors) in call order."""
    import threading
    start, results = threading.Barrier(len(calls)), [None] * len(calls)

    def run(index, call):
        start.wait()
        try:
            results[index] = call()
        except RemoteError as exc:
            results[index] = exc
    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_concurrent_edits_with_one_version_one_wins(service, amqp_uri):
    client = service.call("clients", "create", {"payload": {"name": "Souběh"}})
    pools = [RpcPool(amqp_uri) for _ in range(2)]
    try:
        results = _both_at_once([
            lambda pool=pool, value=value: pool.call("clients", "update", {
                "client_id": client["id"], "changes": {"industry": value},
                "if_match": client["version"]}) for pool, value in zip(pools, ("IT", "stavby"))])
    finally:
        for pool in pools:
            pool.close()
    won = [r for r in results if isinstance(r, dict)]
    lost = [r for r in results if isinstance(r, RemoteError)]
    assert len(won) == 1 and len(lost) == 1, results
    assert lost[0].exc_type == "PreconditionFailed"
    history = service.call("clients", "history", {"client_id": client["id"]})["items"]
    assert [h["action"] for h in history] == ["updated", "created"]
    assert service.call("clients", "get", {"client_id": client["id"]})["industry"] == \
        won[0]["industry"]


def test_concurrent_primary_contacts_leave_one_primary(service, amqp_uri):
    client = service.call("clients", "create", {"payload": {"name": "Dva primární"}})
    people = [service.call("clients", "add_contact", {
        "client_id": client["id"], "contact": {"last_name": name, "primary": False}})
        for name in ("Novák", "Svoboda")]
    pools = [RpcPool(amqp_uri) for _ in range(2)]
    try:
        results = _both_at_once([
            lambda pool=pool, person=person: pool.call("clients", "update_contact_link", {
                "client_id": client["id"], "contact_id": person["id"],
                "changes": {"primary": True}}) for pool, person in zip(pools, people)])
    finally:
        for pool in pools:
            pool.close()
    assert all(isinstance(r, dict) or r.exc_type == "Conflict" for r in results), results
    listed = service.call("clients", "list_contacts", {"client_id": client["id"]})["items"]
    assert sum(1 for c in listed if c["link"]["primary"]) == 1


def test_archive_and_contacts_are_published(service, event_tap):
    tap = event_tap([("clients.events", "#")])
    client = service.call("clients", "create", {"payload": {"name": "Události"}})
    service.call("clients", "archive", {"client_id": client["id"]})
    jan = service.call("clients", "add_contact", {"client_id": client["id"],
                                                  "contact": {"last_name": "Novák"}})
    tap.wait_for(lambda e: e["type"] == "contact.created" and e["subject"] == jan["id"])
    archived = tap.wait_for(lambda e: e["type"] == "client.archived"
                            and e["subject"] == client["id"])
    assert archived["data"]["archived_at"] and archived["data"]["name"] == "Události"
    with pytest.raises(RemoteError) as exc:
        service.call("clients", "update", {"client_id": client["id"],
                                           "changes": {"industry": "IT"}, "if_match": 1})
    assert exc.value.exc_type == "PreconditionFailed"


def test_two_concurrent_moves_never_make_a_cycle(service, amqp_uri):
    x = service.call("clients", "create", {"payload": {"name": "X"}})
    y = service.call("clients", "create", {"payload": {"name": "Y"}})
    pools = [RpcPool(amqp_uri) for _ in range(2)]
    try:
        results = _both_at_once([
            lambda: pools[0].call("clients", "update", {"client_id": x["id"],
                                                        "changes": {"parent_id": y["id"]}}),
            lambda: pools[1].call("clients", "update", {"client_id": y["id"],
                                                        "changes": {"parent_id": x["id"]}})])
    finally:
        for pool in pools:
            pool.close()
    assert sorted(type(r).__name__ for r in results) == ["RemoteError", "dict"], results
    assert next(r for r in results if isinstance(r, RemoteError)).exc_type == "Conflict"
    parents = [service.call("clients", "get", {"client_id": c["id"]})["parent_id"]
               for c in (x, y)]
    assert parents.count(None) == 1


def test_an_import_batch_answers_each_row_publishes_and_reverts(service, event_tap):
    tap = event_tap([("clients.events", "#")])
    caller = {"caller_id": "anna", "caller_role": "sales", "own_only": True,
              "actor": "user:anna"}
    rows = [{"row": 2, "client": {"name": "Z importu", "ico": "47110015"},
             "contact": {"first_name": "Jan", "last_name": "Novák"}},
            {"row": 3, "client": {"name": "Chybná", "ico": "25063678"}, "contact": None}]
    arguments = {"import_id": "rpc-import", "mode": "upsert", "rows": rows}
    preview = service.call("clients", "import_batch", dict(arguments, dry_run=True),
                           context=caller)
    assert preview[0]["client"]["owner_id"] == "anna"
    results = service.call("clients", "import_batch", arguments, context=caller)
    assert [r["status"] for r in results] == ["created", "failed"]
    assert results[1]["errors"] == [{"field": "ico", "message": "IČO has a wrong check digit"}]
    created = tap.wait_for(lambda e: e["type"] == "client.created"
                           and e["subject"] == results[0]["client_id"])
    assert created["data"]["import_id"] == "rpc-import" and created["actor"] == "user:anna"
    assert service.call("clients", "import_batch", arguments, context=caller) == results
    answer = service.call("clients", "revert_import", {
        "import_id": "rpc-import", "client_ids": [results[0]["client_id"]]}, context=caller)
    assert answer == {"archived": [results[0]["client_id"]], "kept": []}
    tap.wait_for(lambda e: e["type"] == "client.archived"
                 and e["subject"] == results[0]["client_id"])
    with pytest.raises(RemoteError) as exc:
        service.call("clients", "import_batch", dict(arguments, rows=[]))
    assert exc.value.exc_type == "ValidationFailed" and "rows" in exc.value.args_[0]
