"""flask-smorest Api whose errors (and their documentation) are problem+json."""
import http

from flask_smorest import Api
from flask_smorest.utils import prepare_response

from . import problems
from .schemas import ObjectRulesPlugin, ProblemSchema


class CrmApi(Api):
    ERROR_SCHEMA = ProblemSchema

    def handle_http_exception(self, error):
        return problems.from_http_exception(error)

    def _register_responses(self):
        for status in http.HTTPStatus:
            response = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, problems.PROBLEM_MIME)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Error (RFC 9457 problem details)",
                    "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, problems.PROBLEM_MIME)
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, response, lazy=True)


def init_app(app) -> CrmApi:
    api = CrmApi(app, spec_kwargs={"extra_plugins": [ObjectRulesPlugin()]})
    api.spec.components.security_scheme("bearerAuth", {
        "type": "http", "scheme": "bearer",
        "description": "An API token (POST /api/v1/tokens; or CRM_BOOTSTRAP_ADMIN_TOKEN) "
                       "as `Authorization: Bearer <token>`."})
    api.spec.components.security_scheme("sessionCookie", {
        "type": "apiKey", "in": "cookie", "name": "crm_session",
        "description": "The web UI's login (POST /api/v1/auth/login); writes with it also "
                       "need the header X-CSRF-Token"})
    api.spec.components.security_scheme("calendarFeedToken", {
        "type": "apiKey", "in": "query", "name": "token",
        "description": "A calendar feed token (POST /api/v1/calendar/feed), for calendar "
                       "apps, which send no headers: it reads its user's feed, nothing else"})
    from .blueprints import (activities, activity_plans, attachments, audit, auth, calendar,
                             clients, contacts, custom_fields, deals, imports, org_settings,
                             registry, status, tokens, users, views)
    for blueprint in (clients, contacts, custom_fields, deals, activities, attachments, status,
                      auth, users, tokens, org_settings, audit, views, calendar,
                      activity_plans, imports, registry):
        api.register_blueprint(blueprint.blp)
    api.register_blueprint(deals.settings)
    return api
