"""A service whose handler fails as often as the event asks: drives the retry tests."""
from collections import Counter

from nameko.rpc import rpc

from crm_common.nameko_glue import Database, reliable_event_handler

ATTEMPTS = Counter()
DONE = []


class Flaky:
    name = "flaky"
    db = Database("flaky")

    @reliable_event_handler("flakysrc", "thing.happened")
    def on_thing(self, event):
        ATTEMPTS[event["id"]] += 1
        if ATTEMPTS[event["id"]] <= event["data"]["fail_times"]:
            raise RuntimeError(f"failing on purpose ({ATTEMPTS[event['id']]})")
        DONE.append(event["id"])

    @rpc
    def health(self):
        return {"status": "ok"}

    @rpc
    def state(self, event_id):
        return {"attempts": ATTEMPTS[event_id], "done": DONE.count(event_id)}
