"""A service whose handler fails as the event asks: drives the retry, parking and deadline tests.

Event data: `fail_times` (raise that often), `poison` (raise PoisonEvent), `crash` (kill the
process as an out-of-memory kill would, every time). Its database file records the
attempts, so a crashed and restarted process still knows them.
"""
import os
import signal
from collections import Counter

import eventlet

from sqlalchemy import text

from crm_common.errors import PoisonEvent
from crm_common.nameko_glue import Database, reliable_event_handler, rpc

ATTEMPTS = Counter()
DONE = []
CALLS = Counter()


class Flaky:
    name = "flaky"
    db = Database("flaky")

    @reliable_event_handler("flakysrc", "thing.happened")
    def on_thing(self, event):
        ATTEMPTS[event["id"]] += 1
        data = event["data"]
        if data.get("crash"):
            with self.db() as uow:  # survives the crash: the test counts deliveries with it
                uow.session.execute(text("INSERT INTO crashes (event_id) VALUES (:id)"),
                                    {"id": event["id"]})
                uow.commit()
            os.kill(os.getpid(), signal.SIGKILL)
        if data.get("poison"):
            raise PoisonEvent("this event can never be processed")
        if ATTEMPTS[event["id"]] <= data.get("fail_times", 0):
            raise RuntimeError(f"failing on purpose ({ATTEMPTS[event['id']]})")
        DONE.append(event["id"])

    @rpc
    def health(self):
        return {"status": "ok"}

    @rpc
    def state(self, event_id):
        return {"attempts": ATTEMPTS[event_id], "done": DONE.count(event_id)}

    @rpc
    def touch(self, key, delay=0):
        """A write: counts the calls that ran (a call past its deadline never gets here)."""
        eventlet.sleep(delay)  # work before the unit of work begins
        with self.db():
            CALLS[key] += 1
        return CALLS[key]

    @rpc
    def touched(self, key):
        return CALLS[key]
