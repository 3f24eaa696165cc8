"""The client register's side of a client import (issue 12).

`import_batch`: up to 1,000 rows of a file, matched against the register and created,
updated or skipped in one transaction, one answer per row (an invalid row never stops the
others). `revert_import`: archives the clients an import created that nobody changed since.

Matching, in bulk (one query per kind of key for the whole batch, never one per row):
by IČO first (archived clients too: an archived client is neither duplicated nor silently
restored), then by e-mail among the active clients (any of a client's e-mails, case aside;
a client with another IČO than the row's is another company, not a match).

An update is a PATCH of the fields the file gives, except that tags, e-mails and phones are
added to the client's own; an empty cell never clears a value. A contact person is added
to a matched client unless one of its people has the same e-mail or full name.
"""
import uuid
from dataclasses import dataclass

from crm_common.concurrency import concurrent_writes
from crm_common.db import take_turns
from crm_common.errors import Conflict, ValidationFailed
from crm_common.events import utcnow
from crm_common.fields import load

from . import search
from .contact_handlers import contact_event, link_summary
from .contacts import Contact, ContactLink, new_contact, same_person
from .custom_field_handlers import custom_values
from .domain import Client, InvalidValue, imported_values, normalize_ico
from .handlers import (MAX_BATCH, UniqueInBatch, archive_event_data, clients_of,
                       created_event, creation_history, event_client, insert_new_clients,
                       new_client_row, row_resource, to_resource)
from .repository import Clients, Contacts, CustomFields, history_row
from .schemas import ClientPatchSchema, ContactCreateSchema

IMPORT = "clients.import"  # the scope of the rows' idempotency keys
MODES = ("create", "upsert", "update")
MAX_IMPORT_ID = 100  # characters; a row's key `import:<import id>:<row>` fits in 200
MAX_ROW = 10 ** 9
ROW_FIELDS = ("row", "client", "contact")
_patch_schema = ClientPatchSchema()
_contact_schema = ContactCreateSchema()


@dataclass(frozen=True)
class Job:
    import_id: str
    mode: str
    dry_run: bool

    def request(self, row: "Row") -> dict:
        """What a row's idempotency key guards: the same row again answers as before."""
        return {"mode": self.mode, "row": row.sent}

    def mark(self) -> dict:
        return import_mark(self.import_id)


def import_mark(import_id: str) -> dict:
    """What the history rows of an import's writes record beside the changes (in the shape
    of a change, as every history reader expects)."""
    return {"import_id": {"before": None, "after": import_id}}


@dataclass
class Row:
    """A row of the file as the batch works it: what was sent, and what it is matched by."""
    number: int
    sent: dict
    client: dict  # the fields the file gives (an empty cell never clears a value)
    contact: dict | None
    ico: str | None  # the valid IČO, or None
    emails: frozenset  # as clients are found by them (search.email_key)

    @classmethod
    def of(cls, sent: dict) -> "Row":
        client = _given(sent["client"])
        contact = _given(sent.get("contact") or {}) or None
        return cls(sent["row"], sent, client, contact, _ico_of(client), _emails_of(client))


def _given(values: dict) -> dict:
    return {name: value for name, value in values.items() if value not in (None, "", [], {})}


def _ico_of(client: dict) -> str | None:
    try:
        return normalize_ico(client.get("ico"))
    except (InvalidValue, TypeError):
        return None  # refused by the validation the row goes through


def _emails_of(client: dict) -> frozenset:
    listed = client.get("emails") if isinstance(client.get("emails"), list) else []
    sent = [client.get("email"), *(entry.get("value") for entry in listed
                                   if isinstance(entry, dict))]
    return frozenset(search.email_key(value) for value in sent if isinstance(value, str))


def other_companies(ico: str | None, other_ico: str | None) -> bool:
    """Two IČOs that say two companies (an e-mail they share does not make them one)."""
    return bool(ico and other_ico and ico != other_ico)


def import_batch(uow, import_id: str, mode: str, rows: list, dry_run: bool = False
                 ) -> list[dict]:
    """One answer per row, in order: `{"row", "status", "client_id", "errors", "reason",
    "changes"}` (and `"client"`, the resource as it would be stored, in a dry run).

    Each row is idempotent under the key `import:<import_id>:<row>`: sent again (the
    importer stopped before it recorded the answer), it answers as before and writes
    nothing. A dry run validates and matches alike and writes nothing at all.
    """
    _check_request(import_id, mode, rows, dry_run)
    job = Job(import_id, mode, dry_run)
    batch = [Row.of(sent) for sent in rows]
    keys = [None if dry_run else f"import:{import_id}:{row.number}" for row in batch]
    for _ in range(3):  # a concurrent batch with the same rows won: take its answers
        results = _import(uow, job, batch, keys)
        if results is not None:
            return results
    raise Conflict("the same rows are being imported concurrently; send them again")


def _import(uow, job: Job, rows: list[Row], keys: list) -> list[dict] | None:
    if not job.dry_run:
        # the IČOs found free below stay free until this commits (creates take turns too)
        take_turns(uow.session, "clients:ico")
    replayed = uow.replay_many(IMPORT, keys, [job.request(row) for row in rows])
    batch = _Batch(uow, job, rows)
    with uow.session.no_autoflush:  # nothing is written before every row is decided
        results = [batch.answer(row, earlier) for row, earlier in zip(rows, replayed)]
    if job.dry_run:
        uow.rollback()
        return results
    batch.write()
    answered = [(key, job.request(row), result) for key, row, result, earlier in
                zip(keys, rows, results, replayed) if earlier is None]
    return results if uow.commit_many_once(IMPORT, answered) else None


class _Matches:
    """What the batch's rows match in the register: one query for the IČOs, one for the
    e-mails. A match is a client, or the number of clients an e-mail is ambiguous among."""

    def __init__(self, repo: Clients, rows: list[Row]):
        self.by_ico: dict[str, Client] = {}
        for client in repo.holding_icos({row.ico for row in rows if row.ico}):
            held = self.by_ico.get(client.ico)  # an active holder before an archived one
            if held is None or (held.archived_at is not None and client.archived_at is None):
                self.by_ico[client.ico] = client
        self.by_email: dict[str, dict[str, Client]] = {}
        for email, client in repo.active_with_emails(frozenset().union(
                *(row.emails for row in rows))):
            self.by_email.setdefault(email, {})[client.id] = client

    def of(self, row: Row) -> Client | int | None:
        if row.ico in self.by_ico:
            return self.by_ico[row.ico]
        found = {client.id: client for email in row.emails
                 for client in self.by_email.get(email, {}).values()
                 if not other_companies(client.ico, row.ico)}
        if len(found) > 1:
            return len(found)
        return next(iter(found.values()), None)


class _EarlierRows:
    """The batch's earlier rows by IČO, e-mail and matched client: a later row naming one of
    them again is a duplicate (the importer de-duplicates the file; this defends the
    register all the same). Failed rows claim nothing: a later, valid copy goes ahead."""

    def __init__(self):
        self.seen: dict[tuple, tuple[str | None, dict]] = {}

    def of(self, row: Row, match) -> dict | None:
        keys = [("ico", row.ico)] if row.ico else []
        keys += [("email", email) for email in sorted(row.emails)]
        keys += [("client", match.id)] if isinstance(match, Client) else []
        for key in keys:
            ico, result = self.seen.get(key, (None, None))
            if result is not None and not (key[0] == "email" and
                                           other_companies(ico, row.ico)):
                return result
        return None

    def claim(self, row: Row, result: dict) -> None:
        if result["status"] == "failed":
            return
        keys = [("ico", row.ico)] if row.ico else []
        keys += [("email", email) for email in row.emails]
        keys += [("client", result["client_id"])] if result["client_id"] else []
        for key in keys:
            self.seen.setdefault(key, (row.ico, result))


class _Batch:
    """One batch in the making: each row decided in turn, what it writes gathered so that
    the whole batch is written in a few multi-row statements."""

    def __init__(self, uow, job: Job, rows: list[Row]):
        self.uow, self.job, self.session = uow, job, uow.session
        self.caller, self.actor, self.now = uow.context.caller, uow.context.actor, utcnow()
        self.matches = _Matches(Clients(uow.session), rows)  # whoever may see them
        self.earlier = _EarlierRows()
        definitions = CustomFields(uow.session)
        self.definitions = definitions.by_key("client")
        self.contact_definitions = definitions.by_key("contact") if any(
            row.contact for row in rows) else {}
        self.unique = UniqueInBatch(self.definitions)
        self.people = self._people_of_matches(rows)
        # what the batch writes
        self.new_clients: list[dict] = []
        self.new_people: list[tuple[Contact, ContactLink]] = []
        self.to_reindex: list[str] = []  # clients changed, or with a new person
        self.history: list[dict] = []
        self.events: list[tuple] = []

    def _people_of_matches(self, rows: list[Row]) -> dict[str, list[Contact]]:
        """The contact persons of the clients rows with a contact person may update (an
        import adds no person twice)."""
        if self.job.mode == "create":
            return {}
        matched = (self.matches.of(row) for row in rows if row.contact)
        return Contacts(self.session).of_clients(
            {match.id for match in matched if isinstance(match, Client)})

    def answer(self, row: Row, earlier) -> dict:
        if isinstance(earlier, dict):
            result = earlier  # answered before: nothing more to write
        elif isinstance(earlier, ValidationFailed):
            result = self._failed(row, earlier.errors, "invalid")
        else:
            try:
                result = self._decide(row, self.matches.of(row))
            except ValidationFailed as exc:
                result = self._failed(row, exc.errors, "invalid")
            except Conflict as exc:  # a parent company that would be its own subsidiary
                field, _, message = str(exc.args[0]).partition(": ")
                result = self._failed(row, {field: [message]}, "invalid")
        self.earlier.claim(row, result)
        return result

    def _decide(self, row: Row, match) -> dict:
        duplicate = self.earlier.of(row, match)
        if duplicate is not None:
            return self._result(row, "skipped", duplicate["client_id"], "duplicate_in_file")
        mode = self.job.mode
        if match is None:
            return self._result(row, "skipped", reason="not_found") if mode == "update" \
                else self._create(row)
        visible = isinstance(match, Client) and self.caller.may_see(match.owner_id)
        if mode == "create":  # the row is in the register already: nothing to do
            return self._result(row, "skipped", match.id if visible else None, "exists")
        if isinstance(match, int):
            return self._failed(row, {"email": [
                f"{match} clients have this e-mail: the row cannot tell which one it is."]},
                "ambiguous")
        if not visible:
            return self._result(row, "skipped", reason="not_visible")
        if match.archived_at is not None:
            return self._failed(row, {"ico": [
                f"Client {match.id} with this IČO is archived: restore it to import into "
                "it."]}, "archived", match.id)
        return self._update(row, match)

    def _create(self, row: Row) -> dict:
        contact = self._contact(row)  # validated first: a row is written whole or not at all
        fields = new_client_row(self.uow, row.client, self.definitions, self.unique,
                                self.now, [contact.name] if contact else ())
        resource = row_resource(fields)
        more = self.job.mark()
        self.events.append(created_event(resource, source="import",
                                         import_id=self.job.import_id))
        if contact:
            link = ContactLink(fields["id"], contact.id, contact.position, primary=True)
            more["contacts"] = {"before": None, "after": link_summary(contact, link)}
            self._add_person(contact, link)
        self.new_clients.append(fields)
        self.history.append(creation_history(fields, self.actor, more))
        return self._result(row, "created", fields["id"], resource=resource)

    def _update(self, row: Row, client: Client) -> dict:
        """As a PATCH of the fields the file gives (tags, e-mails and phones added to the
        client's own), and its contact person added unless the client has them already."""
        values = imported_values(client, load(_patch_schema, row.client))
        contact = self._contact(row)
        if values.get("parent_id", client.parent_id) != client.parent_id:
            clients_of(self.uow).check_parent(client.id, values["parent_id"])
        if "custom_fields" in values:
            values["custom_fields"] = custom_values(
                self.session, "client", values["custom_fields"], client.custom_fields,
                client.id, False, self.definitions)
            self.unique.claim(values["custom_fields"])
        changes = client.edit(values, self.actor, self.now)
        resource = to_resource(client) if changes or self.job.dry_run else None
        if changes:
            self.to_reindex.append(client.id)
            self.history.append(history_row(client.id, "updated",
                                            {**changes, **self.job.mark()}, self.actor,
                                            self.now, client.version))
            self.events.append(("client.updated", client.id, {
                "client": event_client(resource), "source": "import",
                "import_id": self.job.import_id, "changes": changes}))
        if contact and not any(same_person(contact, known)
                               for known in self.people.get(client.id, ())):
            changes = {**changes, "contacts": self._add_to_existing(client, contact)}
        return self._result(row, "updated" if changes else "unchanged", client.id,
                            changes=changes or None, resource=resource)

    def _contact(self, row: Row) -> Contact | None:
        """The row's contact person, validated as a single one added to a client is (the
        errors named `contact.<field>`)."""
        if row.contact is None:
            return None
        try:
            data = load(_contact_schema, row.contact)
            data["custom_fields"] = custom_values(self.session, "contact",
                                                  data.get("custom_fields"), {}, None, True,
                                                  self.contact_definitions)
        except ValidationFailed as exc:
            raise ValidationFailed({f"contact.{name}": messages
                                    for name, messages in exc.errors.items()}) from exc
        data.pop("primary", None)  # the batch says who is primary
        return new_contact(str(uuid.uuid4()), data, self.actor, self.now)

    def _add_to_existing(self, client: Client, contact: Contact) -> dict:
        """The person added to a client of the register (its primary one when it has none):
        as `add_contact` records it."""
        link = ContactLink(client.id, contact.id, contact.position,
                           primary=not self.people.get(client.id))
        self._add_person(contact, link)
        self.people.setdefault(client.id, []).append(contact)
        change = {"before": None, "after": link_summary(contact, link)}
        self.history.append(history_row(client.id, "contact_added",
                                        {"contacts": change, **self.job.mark()}, self.actor,
                                        self.now, client.version))
        self.to_reindex.append(client.id)  # its search text names its people
        return change

    def _add_person(self, contact: Contact, link: ContactLink) -> None:
        self.new_people.append((contact, link))
        self.events.append(("contact.created", contact.id, {
            "contact": contact_event(contact, [link]), "client_id": link.client_id}))

    def _result(self, row: Row, status: str, client_id: str | None = None,
                reason: str | None = None, changes: dict | None = None,
                resource: dict | None = None) -> dict:
        result = {"row": row.number, "status": status, "client_id": client_id,
                  "errors": None, "reason": reason, "changes": changes}
        if self.job.dry_run:  # the preview shows the rows as they would be stored
            result["client"] = resource
        return result

    def _failed(self, row: Row, errors: dict, reason: str, client_id: str | None = None
                ) -> dict:
        return dict(self._result(row, "failed", client_id, reason),
                    errors=field_errors(errors))

    def write(self) -> None:
        """Everything the batch decided, in a few statements: the changed clients (their
        versions checked), the new ones, their people, history and events."""
        with concurrent_writes("a client of this batch was changed by someone else at the "
                               "same time: send the batch again"):
            self.session.flush()
        insert_new_clients(self.uow, self.new_clients, self.history)
        Contacts(self.session).add_many(self.new_people, self.now)
        clients_of(self.uow).reindex(self.to_reindex)
        self.uow.emit_many(self.events)


def field_errors(errors: dict, prefix: str = "") -> list[dict]:
    """{"a": {"0": {"b": ["msg"]}}} -> [{"field": "a.0.b", "message": "msg"}]: the pairs the
    gateway's problem details list (crm_gateway.problems.flatten)."""
    found = []
    for name, messages in errors.items():
        field = prefix if name == "_schema" else f"{prefix}.{name}" if prefix else str(name)
        if isinstance(messages, dict):
            found += field_errors(messages, field)
        else:
            found += [{"field": field or None, "message": str(message)}
                      for message in (messages if isinstance(messages, list) else [messages])]
    return found


# -- the request's shape ----------------------------------------------------------------

def _check_request(import_id, mode, rows, dry_run) -> None:
    """A request the batch cannot even be read from is refused whole (rows with invalid
    values are each answered instead)."""
    errors = _import_id_errors(import_id)
    if not isinstance(mode, str) or mode not in MODES:
        errors["mode"] = [f"One of {', '.join(MODES)}."]
    if not isinstance(dry_run, bool):
        errors["dry_run"] = ["true or false."]
    if not isinstance(rows, list) or not 1 <= len(rows) <= MAX_BATCH:
        errors["rows"] = [f"A list of 1 to {MAX_BATCH} rows."]
    else:
        numbers: set[int] = set()
        for index, row in enumerate(rows):
            errors.update(_row_errors(f"rows.{index}", row, numbers))
    if errors:
        raise ValidationFailed(errors)


def _import_id_errors(import_id) -> dict:
    if isinstance(import_id, str) and import_id.strip() and len(import_id) <= MAX_IMPORT_ID:
        return {}
    return {"import_id": [f"The import's id: a text of 1 to {MAX_IMPORT_ID} characters."]}


def _row_errors(name: str, row, numbers: set[int]) -> dict:
    if not isinstance(row, dict):
        return {name: ['An object: {"row", "client", "contact"}.']}
    errors = {f"{name}.{key}": ["Unknown field."] for key in row if key not in ROW_FIELDS}
    number = row.get("row")
    if isinstance(number, bool) or not isinstance(number, int) or \
            not 0 <= number <= MAX_ROW:
        errors[f"{name}.row"] = [f"The row's number in the file: a whole number from 0 to "
                                 f"{MAX_ROW}."]
    elif number in numbers:
        errors[f"{name}.row"] = [f"Row {number} is in the batch twice."]
    else:
        numbers.add(number)
    if not isinstance(row.get("client"), dict):
        errors[f"{name}.client"] = ["An object of the client's fields."]
    if row.get("contact") is not None and not isinstance(row["contact"], dict):
        errors[f"{name}.contact"] = ["An object of the contact person's fields, or null."]
    return errors


# -- revert ---------------------------------------------------------------------------

def revert_import(uow, import_id: str, client_ids: list) -> dict:
    """Archives the clients of `client_ids` this import created that nobody changed since
    (as `archive` does: history, `client.archived`); the others are kept, saying why.
    Reverting again archives nothing more (those are `already_archived` then)."""
    errors = _import_id_errors(import_id)
    if not isinstance(client_ids, list) or len(client_ids) > MAX_BATCH or \
            not all(isinstance(client_id, str) for client_id in client_ids):
        errors["client_ids"] = [f"A list of at most {MAX_BATCH} client ids."]
    if errors:
        raise ValidationFailed(errors)
    ids = list(dict.fromkeys(client_ids))
    repo = clients_of(uow)  # a client the caller may not see is one that does not exist
    found = repo.many(ids)
    histories = repo.histories(found)
    actor, now, mark = uow.context.actor, utcnow(), import_mark(import_id)
    archived, kept, history, events = [], [], [], []
    for client_id in ids:
        reason = kept_because(found.get(client_id), histories.get(client_id, []), import_id)
        if reason:
            kept.append({"id": client_id, "reason": reason})
            continue
        client = found[client_id]
        changes = client.archive(actor, now)
        history.append(history_row(client.id, "archived", {**changes, **mark}, actor, now,
                                   client.version))
        events.append(("client.archived", client.id, archive_event_data(client)))
        archived.append(client_id)
    with concurrent_writes("a client was changed by someone else at the same time: "
                           "revert again"):
        uow.session.flush()
    repo.record_many(history)
    uow.emit_many(events)
    uow.commit()
    return {"archived": archived, "kept": kept}


def kept_because(client: Client | None, history: list, import_id: str) -> str | None:
    """Why a revert keeps a client, or None to archive it. It was changed when its history
    has an entry that is neither the import's own (its creation, its contact person) nor
    the register's (ARES data: action `registry`)."""
    def of_import(entry) -> bool:
        return ((entry.changes or {}).get("import_id") or {}).get("after") == import_id
    if client is None:
        return "not_found"
    if not any(entry.action == "created" and of_import(entry) for entry in history):
        return "not_from_import"
    if client.merged_into is not None:
        return "merged"
    if client.archived_at is not None:
        return "already_archived"
    if any(not of_import(entry) and entry.action != "registry" for entry in history):
        return "changed"
    return None
