"""WSGI entry: gunicorn -k gthread --threads 8 -b 0.0.0.0:${GATEWAY_PORT:-8080} crm_gateway.wsgi:app"""
import os

from crm_common.context import setup_logging

from . import create_app

setup_logging(os.environ.get("LOG_LEVEL", "INFO"))
app = create_app()
