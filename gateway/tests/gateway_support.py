"""Shared by the gateway tests: the bootstrap token, a client resource, a fake RPC pool."""

TOKEN = "bootstrap-7c1e4a9d2f6b8e0a3c5d7f9b1e"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
# an id of the form the services make (a UUID) that no record has
MISSING_ID = "6c1f3b0e-0000-4000-8000-00000000dead"

CLIENT = {
    "id": "6c1f3b0e-0000-4000-8000-000000000001", "kind": "company", "name": "Firma s.r.o.",
    "ico": "25596641", "dic": None, "vat_payer": None, "legal_form": None,
    "legal_form_name": None, "nace": [], "registered_address": None, "email": None,
    "phone": None, "registry": {"source": "ares", "status": "pending", "fetched_at": None,
                 "values": None},
    "created_at": "2025-01-02T10:00:00+00:00", "updated_at": "2025-01-02T10:00:00+00:00",
    "version": 3,
}


class FakeRpc:
    """Records calls; answers from `answers[(service, method)]` (a value, an exception to
    raise, or a callable taking the kwargs). `broker` is what `check_broker` answers (a state
    or an exception to raise); `broker_checks` counts the checks."""

    def __init__(self):
        self.calls = []
        self.answers = {}
        self.broker = "ok"
        self.broker_checks = 0

    def call(self, service, method, kwargs=None, context=None, timeout=None):
        self.calls.append((service, method, kwargs or {}, context or {}))
        answer = self.answers.get((service, method))
        if isinstance(answer, Exception):
            raise answer
        return answer(**(kwargs or {})) if callable(answer) else answer

    def fan_out(self, calls, context=None, timeout=None, timings=None):
        results = {}
        for name, (service, method, kwargs) in calls.items():
            try:
                results[name] = self.call(service, method, kwargs, context, timeout)
            except Exception as exc:  # noqa: BLE001
                results[name] = exc
            if timings is not None:
                timings[name] = 0.0012
        return results

    def check_broker(self, timeout):
        self.broker_checks += 1
        if isinstance(self.broker, Exception):
            raise self.broker
        return self.broker

    def called(self, service, method):
        return [c for c in self.calls if c[:2] == (service, method)]


def migrated_database(path) -> str:
    """An SQLite file at `path` with the gateway's migrations applied."""
    import os

    from crm_common.migrate import upgrade
    from pathlib import Path

    previous = os.environ.get("GATEWAY_DATABASE_URL")
    os.environ["GATEWAY_DATABASE_URL"] = f"sqlite:///{path}"
    try:
        upgrade(Path(__file__).resolve().parents[1], "gateway")
    finally:
        if previous is None:
            os.environ.pop("GATEWAY_DATABASE_URL")
        else:
            os.environ["GATEWAY_DATABASE_URL"] = previous
    return path


def user_with_token(app, role: str, scopes=("write",), email: str | None = None,
                    password: str | None = None) -> tuple[dict, dict]:
    """(user, Authorization headers of a new API token of theirs), made in `app`'s database."""
    import uuid

    from crm_gateway.accounts import store, tokens, users

    with app.app_context(), store.transaction() as connection:
        user = users.create(connection, {
            "email": email or f"{role}-{uuid.uuid4().hex[:8]}@firma.cz",
            "name": f"{role.title()} {uuid.uuid4().hex[:4]}", "role": role,
            "password": password})
        made = tokens.create(connection, user["id"], "test", list(scopes), None, "test")
    return user, {"Authorization": f"Bearer {made['token']}"}
