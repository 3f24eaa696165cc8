"""`python -m crm_gateway`: the gateway on Flask's own (threaded) server, for debugging
(breakpoints, one process). `make run` and the images serve it with gunicorn: wsgi.py."""
import os

from crm_common.context import setup_logging

from . import create_app


def main() -> None:
    setup_logging(os.environ.get("LOG_LEVEL", "INFO"))
    port = int(os.environ.get("GATEWAY_PORT") or 8080)
    host = os.environ.get("GATEWAY_HOST") or "127.0.0.1"
    create_app().run(host=host, port=port, threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
