"""The gateway benchmark's floor: a WSGI app answering every request with one static JSON
body (a client resource, as GET /api/v1/clients/{id} answers), served by gunicorn with the
gateway's own settings (crm_gateway/gunicorn_conf.py): what the HTTP server, the worker
model and the load generator cost before any code of the gateway runs."""
import json

from .payloads import client_resource

BODY = json.dumps(client_resource(0)).encode()
HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]


def app(environ, start_response):
    start_response("200 OK", HEADERS)
    return [BODY]
