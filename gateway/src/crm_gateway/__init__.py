"""CRM gateway: REST API, OpenAPI, auth and the web UI in front of the services."""
from .app import create_app

__all__ = ["create_app"]
