"""A batch handler whose events fail as they ask: drives the batching tests.

Event data: `fail_times` (raise that often), `poison` (raise PoisonEvent). Each event the
handler takes writes one row into `things` in the batch's transaction; the batches the
entrypoint got and every event's attempts are kept for the test to ask for.
"""
from collections import Counter

from sqlalchemy import text

from crm_common.errors import PoisonEvent
from crm_common.nameko_glue import Database, handle_events, reliable_batch_handler, rpc

BATCHES: list[list[str]] = []  # the event ids of each call, in order
ATTEMPTS = Counter()


def record_things(uow, events):
    for event in events:
        ATTEMPTS[event["id"]] += 1
        data = event["data"]
        if data.get("poison"):
            raise PoisonEvent("this event can never be processed")
        if ATTEMPTS[event["id"]] <= data.get("fail_times", 0):
            raise RuntimeError(f"failing on purpose ({ATTEMPTS[event['id']]})")
    uow.session.execute(text("INSERT INTO things (event_id) VALUES (:id)"),
                        [{"id": event["id"]} for event in events])


class Batchy:
    name = "batchy"
    db = Database("batchy")

    @reliable_batch_handler("batchsrc", "thing.happened")
    def on_things(self, events):
        BATCHES.append([event["id"] for event in events])
        handle_events(record_things, self.db, "batchy.things", events)

    @rpc
    def health(self):
        return {"status": "ok"}

    @rpc
    def batches(self):
        return BATCHES

    @rpc
    def attempts(self, event_id):
        return ATTEMPTS[event_id]
