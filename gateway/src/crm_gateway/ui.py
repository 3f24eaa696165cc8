"""The small web UI: one page, the data comes from the API with the user's token."""
from flask import Blueprint, render_template, send_from_directory
from swagger_ui_bundle import swagger_ui_path

bp = Blueprint("ui", __name__)

# Swagger UI's files come from a pinned Python package, not a CDN: /api/docs works offline.
SWAGGER_ASSETS = "/api/docs/assets/"


@bp.get(SWAGGER_ASSETS + "<path:filename>")
def swagger_assets(filename):
    return send_from_directory(swagger_ui_path, filename, max_age=3600)


@bp.get("/")
def index():
    return render_template("index.html")
