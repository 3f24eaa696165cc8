"""One bounded, long-lived publishing connection per service process and purpose."""
import logging

import eventlet
from nameko.extensions import SharedExtension

from .. import config
from ..publisher import Publisher

log = logging.getLogger(__name__)


class SharedPublisher(SharedExtension):
    """A `Publisher` shared by every worker of the container, kept alive with heartbeats."""

    confirms = True

    def setup(self):
        uri = self.container.config.get("AMQP_URI") or config.amqp_uri()
        self.publisher = Publisher(uri, confirms=self.confirms,
                                   name=f"{self.container.service_name} {type(self).__name__}")

    def start(self):
        self.container.spawn_managed_thread(
            self._keep_alive, identifier=f"{type(self).__name__}.keep_alive")

    def _keep_alive(self):
        heartbeat = self.publisher.heartbeat
        interval = min(15.0, heartbeat / 4) if heartbeat else 15.0
        while True:
            eventlet.sleep(interval)
            self.publisher.keep_alive()

    def stop(self):
        self.publisher.close()


class ConfirmedPublisher(SharedPublisher):
    """For messages that must not be lost (retries, parking): publisher confirms."""


class ReplyPublisher(SharedPublisher):
    """For RPC replies: no confirm (a lost reply is covered by the caller's deadline), so a
    broker that blocks publishers cannot pin the worker that answers."""

    confirms = False
