"""The lookup queue and its dispatcher against a fake ARES over real HTTP, on SQLite and
PostgreSQL: batching, in-flight de-duplication, the cache, the breaker, refresh jobs and
the scheduled refresh."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from stdnum.cz.dic import calc_check_digit_legal

from ares_service import handlers, refresh_jobs, schedule
from ares_service.breaker import CircuitBreaker
from ares_service.client import AresClient
from ares_service.dispatch import Dispatcher
from ares_service.fake import FakeAres
from ares_service.lookups import Settings
from ares_service.orm import metadata, refresh_queue, registry_watch
from crm_common.access import Caller
from crm_common.db import make_engine, make_session_factory
from crm_common.events import EventContext, to_utc, utcnow
from crm_common.messaging import metadata as messaging_metadata, outbox
from crm_common.uow import UnitOfWork

SETTINGS = Settings(retry_base=timedelta(milliseconds=1), retry_cap=timedelta(milliseconds=5))


def ico(n: int) -> str:
    base = f"{2000000 + n:07d}"
    return base + calc_check_digit_legal(base)


class World:
    def __init__(self, url, fake):
        engine = make_engine(url)
        metadata.create_all(engine)
        messaging_metadata.create_all(engine)
        self.factory = make_session_factory(engine)
        self.fake = fake
        self.ares = AresClient(fake.url, read_timeout=2, retries=0)
        self.breaker = CircuitBreaker(failures=2, cooldown=0.3)
        self.dispatcher = Dispatcher(self.ares, self.breaker, SETTINGS)

    def uow(self, context=None):
        return UnitOfWork(self.factory, "ares", context)

    def new_clients(self, pairs, event_type="client.created", **data):
        events = [{"id": f"e-{client_id}-{event_type}", "type": event_type,
                   "correlationid": f"corr-{client_id}",
                   "data": {"client": {"id": client_id, "ico": number}, **data}}
                  for client_id, number in pairs]
        with self.uow() as uow:
            handlers.queue_lookups(uow, events)
            uow.commit()

    def run(self):
        return self.dispatcher.run(self.uow)

    def events(self, event_type=None):
        import json
        with self.uow() as uow:
            rows = [json.loads(p) for p in uow.session.scalars(select(outbox.c.payload))]
        return [e for e in rows if event_type is None or e["type"] == event_type]

    def queued(self):
        with self.uow() as uow:
            return uow.session.scalar(select(func.count()).select_from(refresh_queue))

    def calls(self):
        return self.fake.stats()["requests"]


@pytest.fixture
def world(database_url):
    with FakeAres(synthesize=True) as fake:
        yield World(database_url, fake)


def test_waiting_lookups_go_out_100_icos_a_call(world):
    world.new_clients([(f"c{n}", ico(n)) for n in range(250)])
    assert world.run() == 250
    assert world.calls() == {"POST /ekonomicke-subjekty/vyhledat": 3}
    succeeded = world.events("ares.lookup_succeeded")
    assert sorted(e["data"]["client_id"] for e in succeeded) == sorted(f"c{n}" for n in range(250))
    first = next(e for e in succeeded if e["data"]["client_id"] == "c7")
    assert first["data"]["record"]["name"] == f"Syntetická {ico(7)} s.r.o."
    assert first["causationid"] == "e-c7-client.created" and first["correlationid"] == "corr-c7"
    assert world.queued() == 0


def test_a_single_new_client_is_one_call_without_waiting_for_more(world):
    world.new_clients([("solo", "25063677")])
    assert world.run() == 1
    assert world.calls() == {"GET /ekonomicke-subjekty/{ico}": 1}


def test_one_ico_waiting_for_many_clients_is_one_lookup(world):
    world.new_clients([(f"dup{n}", "25063677") for n in range(5)])
    world.run()
    assert sum(world.calls().values()) == 1
    assert len(world.events("ares.lookup_succeeded")) == 5


def test_the_cache_answers_until_a_refresh_bypasses_it(world):
    world.new_clients([("a", "25063677")])
    world.run()
    world.new_clients([("b", "25063677")])
    world.run()
    cached = [e for e in world.events("ares.lookup_succeeded") if e["data"]["client_id"] == "b"]
    assert cached[0]["data"]["cached"] is True and sum(world.calls().values()) == 1
    answer = handlers.refresh(world.uow, world.ares, world.breaker, SETTINGS, "b", "25063677")
    assert answer["cached"] is False and sum(world.calls().values()) == 2


def test_not_found_and_invalid_are_answers_not_retries(world):
    world.new_clients([("gone", "25596641"), ("bad", "25063678"), ("ok", ico(1))])
    world.run()
    failed = {e["data"]["client_id"]: e["data"] for e in world.events("ares.lookup_failed")}
    assert failed["gone"]["reason"] == "not_found" and not failed["gone"]["will_retry"]
    assert failed["bad"]["reason"] == "invalid"
    assert world.queued() == 0
    assert world.fake.stats()["icos"] == 2  # the IČO with a wrong check digit never sent


def test_an_outage_opens_the_breaker_and_the_backlog_drains_in_batches_after(world):
    world.fake.set_mode("error500")
    world.new_clients([(f"o{n}", ico(n)) for n in range(150)])
    world.run()
    world.run()
    world.run()  # the breaker is open: no call
    during = sum(world.calls().values())
    assert during == 2 and world.breaker.state == "open"
    failed = world.events("ares.lookup_failed")
    assert len(failed) == 150 and all(e["data"]["will_retry"] for e in failed)
    world.fake.set_mode("ok")
    import time
    time.sleep(0.35)  # the breaker's pause; then a probe, and the backlog at once
    world.run()
    assert world.queued() == 0
    assert sum(world.calls().values()) - during == 2  # 150 lookups: two calls
    succeeded = world.events("ares.lookup_succeeded")
    assert sorted(e["data"]["client_id"] for e in succeeded) == sorted(f"o{n}" for n in range(150))
    assert len(world.events("ares.lookup_failed")) == 150  # one entry per outage, not per retry


def test_a_lookup_claimed_elsewhere_is_not_sent_twice_and_comes_back_after_its_lease(world):
    world.new_clients([("x", "25063677")])
    now = utcnow()
    with world.uow() as uow:  # another replica took it, then died
        uow.session.execute(update(refresh_queue).values(lease_until=now + timedelta(hours=1)))
        uow.commit()
    world.new_clients([("y", "25063677")])
    assert world.run() == 0 and sum(world.calls().values()) == 0
    with world.uow() as uow:
        uow.session.execute(update(refresh_queue).values(lease_until=now - timedelta(seconds=1)))
        uow.commit()
    assert world.run() == 2 and sum(world.calls().values()) == 1


def test_a_refresh_job_counts_changed_unchanged_and_failed(world):
    targets = [{"client_id": f"j{n}", "ico": ico(n)} for n in range(120)] + \
        [{"client_id": "jgone", "ico": "25596641"}]
    world.new_clients([(t["client_id"], t["ico"]) for t in targets[:100]])
    world.run()
    before = len(world.events("ares.lookup_succeeded"))
    with world.uow(EventContext(actor="user:u1", caller=Caller("u1", "sales"))) as uow:
        job = refresh_jobs.start(uow, targets, [{"client_id": "nope", "reason": "not_found"}])
        uow.commit()
    assert job["status"] == "running" and job["total"] == 121
    world.run()
    with world.uow(EventContext(caller=Caller("u1", "sales"))) as uow:
        job = refresh_jobs.get(uow, job["id"])
    assert (job["status"], job["done"], job["changed"], job["unchanged"], job["failed"]) == \
        ("completed", 121, 20, 100, 1)
    assert job["skipped"] == [{"client_id": "nope", "reason": "not_found"}]
    # only what changed published: the 20 clients the register had not answered before
    assert len(world.events("ares.lookup_succeeded")) - before == 20
    assert [e["data"]["changed"] for e in world.events("ares.refresh_completed")] == [20]
    with world.uow(EventContext(caller=Caller("u2", "sales"))) as uow, \
            pytest.raises(Exception, match="not found"):
        refresh_jobs.get(uow, job["id"])


def test_the_scheduled_refresh_spreads_clients_and_publishes_only_changes(world):
    world.new_clients([(f"s{n}", ico(n)) for n in range(40)])
    world.run()
    period = SETTINGS.refresh_period
    with world.uow() as uow:
        due = [r.next_refresh_at for r in uow.session.execute(select(registry_watch))]
    assert len(due) == 40 and len({d.day for d in due}) > 5  # spread over the month
    published = len(world.events())
    with world.uow() as uow:
        uow.session.execute(update(registry_watch).values(next_refresh_at=utcnow()))
        assert schedule.queue_due(uow.session, utcnow(), period) == 40
        uow.commit()
    world.run()
    assert len(world.events()) == published  # nothing changed, nothing published
    assert world.queued() == 0
    with world.uow() as uow:
        later = uow.session.scalar(select(func.min(registry_watch.c.next_refresh_at)))
    assert to_utc(later) > utcnow() + period - timedelta(days=1)


def test_a_removed_ico_stops_the_watch(world):
    world.new_clients([("w", "25063677")])
    world.run()
    world.new_clients([("w", None)], event_type="client.updated", source="user",
                      changes={"ico": {"before": "25063677", "after": None}})
    with world.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(registry_watch)) == 0


def _claim(world, icos):
    from ares_service.queue import LookupQueue
    with world.uow() as uow:
        claimed = LookupQueue(uow.session).claim(icos, utcnow(), timedelta(minutes=2))
        uow.commit()
    return claimed


def _record(world, claimed):
    from ares_service import lookups
    answers = {p.ico: lookups.Answer(world.ares.lookup(p.ico), utcnow()) for p in claimed}
    with world.uow() as uow:
        lookups.record(uow, SETTINGS, answers, claimed)
        uow.commit()


def test_a_client_erased_while_its_lookup_is_in_flight_is_not_written_back(world):
    from ares_service.orm import lookup_cache
    world.new_clients([("gone-person", "01603094")])
    claimed = _claim(world, ["01603094"])
    erased = {"id": "erase-1", "type": "client.erased", "data": {"client_id": "gone-person"}}
    with world.uow() as uow:
        handlers.forget_client(uow, erased)
        uow.commit()
    _record(world, claimed)  # the answer arrives after the erasure
    assert world.events("ares.lookup_succeeded") == []
    with world.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(lookup_cache)) == 0
        assert uow.session.scalar(select(func.count()).select_from(registry_watch)) == 0


def test_erasure_finds_the_ico_through_the_watch_long_after_the_lookup(world):
    from ares_service.orm import lookup_cache
    world.new_clients([("old-person", "01603094")])
    world.run()
    with world.uow() as uow:  # the published events are long gone (retention)
        uow.session.execute(outbox.delete())
        uow.commit()
    with world.uow() as uow:
        handlers.forget_client(uow, {"id": "erase-2", "type": "client.erased",
                                     "data": {"client_id": "old-person"}})
        uow.commit()
    with world.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(lookup_cache)) == 0


def test_a_lookup_claimed_again_elsewhere_is_recorded_once(world):
    world.new_clients([("twice", "25063677")])
    first = _claim(world, ["25063677"])
    with world.uow() as uow:  # its lease ran out; another replica claimed it
        uow.session.execute(update(refresh_queue).values(lease_until=utcnow()))
        uow.commit()
    second = _claim(world, ["25063677"])
    _record(world, first)
    _record(world, second)
    assert len(world.events("ares.lookup_succeeded")) == 1


def test_a_job_target_ico_without_its_leading_zero_is_answered(world):
    with world.uow() as uow:
        job = refresh_jobs.start(uow, [{"client_id": "short", "ico": "1603094"}])
        uow.commit()
    world.run()
    with world.uow() as uow:
        job = refresh_jobs.get(uow, job["id"])
    assert (job["status"], job["changed"]) == ("completed", 1)
    assert world.breaker.state == "closed"


@pytest.mark.parametrize("skipped", [5, [1], [{"client_id": 1, "reason": "x"}], "x"])
def test_a_job_refuses_a_malformed_skipped_list(world, skipped):
    from crm_common.errors import ValidationFailed
    with world.uow() as uow, pytest.raises(ValidationFailed):
        refresh_jobs.start(uow, [], skipped)


def test_a_quiet_lookup_publishes_what_the_client_was_not_told_even_if_cached(world):
    world.new_clients([("q", "25063677")])
    world.run()
    # the client's last answer differs from the register's now (a change the cache, a
    # preview for instance, already holds)
    with world.uow() as uow:
        uow.session.execute(update(registry_watch).values(fingerprint="older answer",
                                                          next_refresh_at=utcnow()))
        uow.commit()
    handlers.lookup(world.uow, world.ares, world.breaker, SETTINGS, "25063677")
    with world.uow() as uow:
        schedule.queue_due(uow.session, utcnow(), SETTINGS.refresh_period)
        uow.commit()
    world.run()
    assert len([e for e in world.events("ares.lookup_succeeded")
                if e["data"]["client_id"] == "q"]) == 2
    world.run()
    with world.uow() as uow:  # told now: the next scheduled lookup is quiet
        uow.session.execute(update(registry_watch).values(next_refresh_at=utcnow()))
        schedule.queue_due(uow.session, utcnow(), SETTINGS.refresh_period)
        uow.commit()
    world.run()
    assert len([e for e in world.events("ares.lookup_succeeded")
                if e["data"]["client_id"] == "q"]) == 2


def test_a_changed_ico_drops_the_old_ones_waiting_lookup(world):
    world.fake.set_mode("error500")
    world.new_clients([("moved", "25063677")])
    world.run()  # unanswered: waits for a retry
    world.fake.set_mode("ok")
    world.new_clients([("moved", "68407700")], event_type="client.updated", source="user",
                      changes={"ico": {"before": "25063677", "after": "68407700"}})
    with world.uow() as uow:
        assert list(uow.session.scalars(select(refresh_queue.c.ico))) == ["68407700"]


def test_a_not_found_ico_is_told_once_then_refreshed_quietly(world):
    world.new_clients([("nowhere", "25596641")])
    world.run()
    for _ in range(2):  # bulk refreshes: the client already knows ARES has no such IČO
        with world.uow() as uow:
            refresh_jobs.start(uow, [{"client_id": "nowhere", "ico": "25596641"}])
            uow.commit()
        world.run()
    failed = [e for e in world.events("ares.lookup_failed")
              if e["data"]["client_id"] == "nowhere"]
    assert len(failed) == 1 and failed[0]["data"]["reason"] == "not_found"
    with world.uow() as uow:  # watched: the register may know it one day
        assert uow.session.scalar(select(func.count()).select_from(registry_watch)) == 1


def test_a_call_that_raises_counts_against_ares_and_its_lookups_wait(world):
    def broken(icos):
        raise RuntimeError("a bug in the client")
    world.ares.lookup_many = broken
    world.new_clients([(f"r{n}", ico(n)) for n in range(3)])
    world.run()
    world.run()
    assert world.breaker.state == "open" and world.queued() == 3


def test_answers_the_database_lost_are_recorded_at_the_next_tick_without_a_second_call(
        world, monkeypatch):
    from ares_service import dispatch, lookups
    from crm_common.errors import ServiceUnavailable
    world.new_clients([(f"lost{n}", ico(n)) for n in range(3)])
    real_record, failures = lookups.record, []

    def database_gone(*args, **kwargs):
        failures.append(1)
        raise ServiceUnavailable("the database cannot be reached; nothing was done")
    monkeypatch.setattr(dispatch.lookups, "record", database_gone)
    with pytest.raises(ServiceUnavailable):
        world.run()
    with pytest.raises(ServiceUnavailable):   # still away: kept, nothing claimed anew
        world.run()
    assert len(failures) == 2 and world.queued() == 3
    monkeypatch.setattr(dispatch.lookups, "record", real_record)
    world.run()   # well within the rows' 2-minute lease
    assert world.queued() == 0
    assert sorted(e["data"]["client_id"] for e in world.events("ares.lookup_succeeded")) == \
        ["lost0", "lost1", "lost2"]
    assert world.calls() == {"POST /ekonomicke-subjekty/vyhledat": 1}
    world.run()   # recorded once
    assert len(world.events("ares.lookup_succeeded")) == 3


def test_a_recording_that_fails_with_a_bug_is_not_retried_every_tick(world, monkeypatch):
    from ares_service import dispatch, lookups
    world.new_clients([("bug0", ico(1))])
    real_record = lookups.record

    def bug(*args, **kwargs):
        raise KeyError("a bug")
    monkeypatch.setattr(dispatch.lookups, "record", bug)
    with pytest.raises(KeyError):
        world.run()
    monkeypatch.setattr(dispatch.lookups, "record", real_record)
    world.new_clients([("next0", ico(2))])
    world.run()   # the dispatcher goes on with other lookups
    done = {e["data"]["client_id"] for e in world.events("ares.lookup_succeeded")}
    assert done == {"next0"}   # bug0's row waits for its lease, as before
    assert world.queued() == 1
