"""The gateway's app factory."""
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from . import api, auditing, auth, health, observability, problems, security, settings, ui


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(settings.load(config))
    if app.config.get("RPC") is not None:
        app.extensions["crm_rpc"] = app.config["RPC"]
    app.json.sort_keys = False
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies:  # the client's address and scheme as the proxies in front say
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    observability.init_app(app)  # first: correlation id and timing wrap everything else
    security.init_app(app)
    auth.init_app(app)
    auditing.init_app(app)
    app.extensions["crm_api"] = api.init_app(app)
    problems.init_app(app)  # after the Api, whose own error handler it replaces
    app.register_blueprint(health.bp)
    app.register_blueprint(ui.bp)
    return app
