"""/api/v1/settings: the organisation's settings, such as the record-level rule."""
from flask import current_app
from flask_smorest import Blueprint

from .. import auth
from ..account_schemas import SettingsPatchSchema, SettingsSchema
from ..accounts import org_settings, store
from . import problem_responses, require_json

blp = Blueprint("settings", __name__, url_prefix="/api/v1/settings",
                description="Settings of the organisation (administrators change them)")

blp.before_request(require_json)


@blp.route("")
@blp.response(200, SettingsSchema)
@problem_responses(blp, 403)
def get_settings():
    """The settings"""
    with store.transaction() as connection:
        return org_settings.read(connection)


@blp.route("", methods=["PATCH"])
@blp.arguments(SettingsPatchSchema)
@blp.response(200, SettingsSchema)
@problem_responses(blp, 400, 403, 415, 422)
def change_settings(changes):
    """Change settings (administrators)

    `sales_see_own_only: true`: sales reps see only the clients (and deals) they own;
    anything else answers them 404, as if it did not exist. Managers and administrators
    see everything. Every gateway process applies a change within
    `SETTINGS_CACHE_SECONDS`."""
    with store.transaction() as connection:
        settings = org_settings.write(connection, changes, auth.current_principal().actor)
    current_app.extensions["crm_settings_cache"].clear()  # committed: read it again
    return settings
