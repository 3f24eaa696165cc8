"""WSGI entry, for gunicorn with the gateway's settings (crm_gateway/gunicorn_conf.py):

    gunicorn -c python:crm_gateway.gunicorn_conf crm_gateway.wsgi:app
"""
import os

from crm_common.context import setup_logging

from . import create_app

setup_logging(os.environ.get("LOG_LEVEL", "INFO"))
app = create_app()
