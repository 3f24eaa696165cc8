"""The gateway's app factory."""
from flask import Flask

from . import api, auth, health, observability, problems, security, settings, ui


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(settings.load(config))
    if app.config.get("RPC") is not None:
        app.extensions["crm_rpc"] = app.config["RPC"]
    app.json.sort_keys = False
    observability.init_app(app)  # first: correlation id and timing wrap everything else
    security.init_app(app)
    auth.init_app(app)
    app.extensions["crm_api"] = api.init_app(app)
    problems.init_app(app)  # after the Api, whose own error handler it replaces
    app.register_blueprint(health.bp)
    app.register_blueprint(ui.bp)
    return app
