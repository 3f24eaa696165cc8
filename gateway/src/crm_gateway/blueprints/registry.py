"""The business register (ARES) on demand: refresh one client now, many in a background job,
and the people of a client's statutory body as suggested contact persons.

A refresh changes no client here: the ares service publishes its outcome and the clients
service applies it (ares.lookup_succeeded -> client.updated). The people are personal data
the gateway passes on and never keeps, and never logs.
"""
import hashlib

from flask import current_app, url_for
from flask_smorest import Blueprint

from crm_common.errors import ValidationFailed
from crm_common.rpc import RemoteError

from .. import rpc
from ..permissions import permission
from ..problems import UNAVAILABLE_TYPE, problem
from ..registry_schemas import (PeopleAddedSchema, PeopleChoiceSchema, RefreshJobSchema,
                                RefreshRequestSchema, RegistryLookupSchema,
                                StatutoryPeopleSchema)
from . import (IDEMPOTENCY_HEADER, idempotency_key, problem_responses, require_json,
               takes_no_body, with_ids)
from .activities import writable_client

blp = Blueprint("registry", __name__, url_prefix="/api/v1",
                description="The business register (ARES): refreshes and statutory bodies")
with_ids(blp)
blp.before_request(require_json)

TARGETS_PAGE = 1000  # clients per registry_targets call
LOCATION = {"Location": {"schema": {"type": "string"},
                         "description": "/api/v1/registry-refresh/{id}: poll it"}}
NOTE = "Ze statutárního orgánu (obchodní rejstřík)"


def errors(*codes):
    return problem_responses(blp, *codes)


def client_with_ico(client_id: str, writing: bool = True) -> dict:
    """The client as the caller may see it (else 404), not merged away when `writing`
    (409), with an IČO: the register knows subjects by it (else 422)."""
    client = writable_client(client_id) if writing else \
        rpc.call("clients", "get", client_id=client_id)
    if not client.get("ico"):
        raise ValidationFailed({"ico": ["The client has no IČO; the register knows "
                                        "subjects by their IČO."]})
    return client


def register_unavailable():
    return problem(503, "ARES, the business register, does not answer just now. Nothing "
                        "was done; try again later.", type_=UNAVAILABLE_TYPE,
                   headers={"Retry-After": str(current_app.config.get("RETRY_AFTER", 5))})


@blp.route("/clients/<id:client_id>/registry-refresh", methods=["POST"])
@takes_no_body
@blp.response(200, RegistryLookupSchema)
@errors(400, 404, 409, 415, 422)
def refresh_client(client_id):
    """Look the client's IČO up in ARES now, bypassing the cache

    Answers what the register said. The client itself is updated from it a moment later
    (`client.updated`, source `ares`, and its timeline entry); `unavailable` is retried
    by the ares service as for a new client."""
    client = client_with_ico(client_id)
    return rpc.call("ares", "refresh", client_id=client["id"], ico=client["ico"])


@blp.route("/registry-refresh", methods=["POST"])
@blp.arguments(RefreshRequestSchema)
@blp.response(202, RefreshJobSchema, headers=LOCATION)
@errors(400, 415, 422)
@blp.doc(parameters=[IDEMPOTENCY_HEADER])
def start_refresh(body):
    """Refresh many clients from ARES in the background: `202` with the job

    The clients named (`client_ids`), or every active client with an IČO (`all`), of
    those you may see; the others named are `skipped`. Poll the job (`Location`). With an
    `Idempotency-Key`, the same request again answers the same job and starts no other."""
    key = idempotency_key()  # before the first RPC of the request
    targets, skipped = refresh_targets(body.get("client_ids"))
    job = rpc.call("ares", "start_refresh", targets=targets, skipped=skipped, **key)
    return job, 202, {"Location": url_for(".get_refresh", job_id=job["id"])}


def refresh_targets(client_ids: list | None) -> tuple[list, list]:
    """([{client_id, ico}] to refresh, [{client_id, reason}] skipped): the clients service
    decides which the caller may refresh. Every page is gathered into one start_refresh
    call: fine up to about 100,000 clients (a few MB in one message); a bigger register
    would need the job to take its targets in pieces."""
    asked = list(dict.fromkeys(client_ids)) if client_ids is not None else None
    chunks = [None] if asked is None else [asked[start:start + TARGETS_PAGE]
                                           for start in range(0, len(asked), TARGETS_PAGE)]
    targets, no_ico = [], set()
    for chunk in chunks:
        cursor = None
        while True:
            page = rpc.call("clients", "registry_targets", client_ids=chunk, cursor=cursor,
                            limit=TARGETS_PAGE)
            targets += [{"client_id": item["client_id"], "ico": item["ico"]}
                        for item in page["items"]]
            no_ico.update(page.get("no_ico") or ())
            cursor = page.get("next_cursor")
            if not cursor:
                break
    found = {target["client_id"] for target in targets}
    # "not_found" also for a client the caller may not see: no existence leaks
    skipped = [{"client_id": client_id, "reason": "no_ico" if client_id in no_ico
                else "not_found"} for client_id in asked or () if client_id not in found]
    return targets, skipped


@blp.route("/registry-refresh/<id:job_id>")
@blp.response(200, RefreshJobSchema)
@errors(404)
def get_refresh(job_id):
    """One refresh job: how far it is (its creator, managers and administrators)"""
    return rpc.call("ares", "refresh_job", job_id=job_id)


@blp.route("/clients/<id:client_id>/registry/people")
@blp.response(200, StatutoryPeopleSchema)
@errors(404, 422)
def statutory_people(client_id):
    """The people of the client's statutory body in the public register: suggested
    contact persons (add them with POST)

    A sole trader is not in the public register: `not_found`, no items."""
    answer = rpc.call("ares", "statutory_people", ico=client_with_ico(client_id, False)["ico"])
    if answer.get("status") == "unavailable":
        return register_unavailable()
    people = answer.get("people") if answer.get("status") == "found" else None
    return {"items": people or [], "status": answer.get("status"),
            "fetched_at": answer.get("fetched_at")}


@blp.route("/clients/<id:client_id>/registry/people", methods=["POST"])
@permission("contacts.write")
@blp.arguments(PeopleChoiceSchema)
@blp.response(201, PeopleAddedSchema)
@errors(400, 404, 409, 415, 422)
@blp.doc(parameters=[IDEMPOTENCY_HEADER])
def add_statutory_people(choice, client_id):
    """Add people of the client's statutory body (`keys` of GET) as its contact persons

    Each is created with their name, degree, role (as position) and a note saying where
    they come from; one whose name a contact of the client has already is `skipped`. With
    an `Idempotency-Key`, the same request again answers the same and adds nobody twice."""
    key = idempotency_key()["idempotency_key"]
    client = client_with_ico(client_id)
    answer = rpc.call("ares", "statutory_people", ico=client["ico"])
    if answer.get("status") == "unavailable":
        return register_unavailable()
    people = {person["key"]: person for person in answer.get("people") or []
              if answer.get("status") == "found"}
    keys = list(dict.fromkeys(choice["keys"]))
    unknown = {str(n): [f"No person of the register has the key {k!r} (any longer)."]
               for n, k in enumerate(choice["keys"]) if k not in people}
    if unknown:
        raise ValidationFailed({"keys": unknown})
    created, skipped = [], []
    for person_key in keys:
        try:
            created.append(rpc.call("clients", "add_contact", client_id=client["id"],
                                    contact=contact_of(people[person_key]),
                                    idempotency_key=person_idempotency_key(key, person_key),
                                    unique_name=True))
        except RemoteError as exc:
            if not is_namesake(exc):
                raise
            skipped.append({"key": person_key, "reason": "exists"})
    return {"created": created, "skipped": skipped}, 201


def contact_of(person: dict) -> dict:
    """A contact person's fields from the register's entry. The one degree a contact has
    is written before the name; one after it (Ph.D.) goes into the note. A company in the
    body is named by its last name."""
    first, last = person.get("first_name"), person.get("last_name")
    if not (first or last):
        last = person.get("name")
    note = NOTE + (f", od {person['since']}" if person.get("since") else "")
    if person.get("degree_after"):
        note += f"; titul za jménem: {person['degree_after']}"
    fields = {"first_name": _clip(first, 100), "last_name": _clip(last, 100),
              "degree": _clip(person.get("degree_before"), 60),
              "position": _clip(person.get("role") or person.get("body"), 120), "note": note}
    return {name: value for name, value in fields.items() if value}


def _clip(text, length: int):
    """Within what a contact's field holds (a register's text is seldom longer)."""
    return text.strip()[:length] if isinstance(text, str) and text.strip() else None


def person_idempotency_key(key: str, person_key: str) -> str:
    """One add_contact key per person of a request (a retry replays each one)."""
    return "registry-people-" + hashlib.sha256(f"{key}\n{person_key}".encode()).hexdigest()


def is_namesake(error: RemoteError) -> bool:
    details = error.args_[1] if error.exc_type == "Conflict" and len(error.args_ or ()) > 1 \
        else None
    return isinstance(details, dict) and details.get("reason") == "exists"
