"""kombu helpers: connections with publisher confirms, and the exchanges we publish to."""
import kombu

RPC_EXCHANGE = "nameko-rpc"  # nameko's RPC exchange; the gateway's client speaks its protocol


def confirmed_connection(uri: str, **kwargs) -> kombu.Connection:
    # confirm_publish makes every basic_publish wait for the broker's ack, so a
    # publish that returns has been taken over by the broker.
    return kombu.Connection(uri, transport_options={"confirm_publish": True},
                            connect_timeout=5, heartbeat=0, **kwargs)


def events_exchange(service: str) -> kombu.Exchange:
    return kombu.Exchange(f"{service}.events", type="topic", durable=True, auto_delete=False)
