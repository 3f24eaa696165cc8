"""Custom fields: defined at run time, values checked on every write, retired ones kept."""
import json

import pytest
from sqlalchemy import select

from clients_service import contact_handlers, custom_field_handlers as custom, handlers
from crm_common.errors import Conflict, ValidationFailed
from crm_common.messaging import outbox


def _define(uow_factory, **definition):
    with uow_factory() as u:
        return custom.create_definition(u, {"applies_to": "client", "label": "L",
                                             **definition})


def _create(uow_factory, **payload):
    with uow_factory() as u:
        return handlers.create_client(u, {"name": "Firma", **payload})


def _events(uow_factory, prefix):
    with uow_factory() as u:
        return [e for e in (json.loads(r.payload) for r in u.session.execute(
            select(outbox).order_by(outbox.c.id))) if e["type"].startswith(prefix)]


@pytest.mark.parametrize("kind, good, stored, bad", [
    ("text", "modrá", "modrá", 5),
    ("number", 12.5, 12.5, "12"),
    ("number", 7, 7, True),
    ("decimal", "1250.50", "1250.50", 1250.5),
    ("date", "2026-02-28", "2026-02-28", "2026-02-30"),
    ("bool", False, False, "no"),
    ("url", "https://example.cz/a", "https://example.cz/a", "example"),
    ("email", "a@b.cz", "a@b.cz", "a@"),
])
def test_values_are_checked_by_type(uow, kind, good, stored, bad):
    _define(uow, key="pole", type=kind)
    assert _create(uow, custom_fields={"pole": good})["custom_fields"] == {"pole": stored}
    with uow() as u, pytest.raises(ValidationFailed) as exc:
        handlers.create_client(u, {"name": "X", "custom_fields": {"pole": bad}})
    assert list(exc.value.errors) == ["custom_fields.pole"]


def test_a_required_field_is_not_met_by_blank_text(uow):
    _define(uow, key="smlouva", type="text", required=True)
    for blank in ("", "   "):
        with uow() as u, pytest.raises(ValidationFailed) as exc:
            handlers.create_client(u, {"name": "X", "custom_fields": {"smlouva": blank}})
        assert list(exc.value.errors) == ["custom_fields.smlouva"]


@pytest.mark.parametrize("kind, bad", [("date", "20240101T0"), ("date", "2024-W01-1"),
                                       ("url", "ftp://example.cz"), ("decimal", "12\n")])
def test_strict_formats(uow, kind, bad):
    _define(uow, key="pole", type=kind)
    with uow() as u, pytest.raises(ValidationFailed):
        handlers.create_client(u, {"name": "X", "custom_fields": {"pole": bad}})


def test_choices(uow):
    _define(uow, key="segment", type="choice", choices=["SMB", "Enterprise"])
    _define(uow, key="zajmy", type="multi_choice", choices=["CRM", "ERP", "BI"])
    client = _create(uow, custom_fields={"segment": "SMB", "zajmy": ["ERP", "CRM", "ERP"]})
    assert client["custom_fields"] == {"segment": "SMB", "zajmy": ["ERP", "CRM"]}
    for values in ({"segment": "Huge"}, {"zajmy": ["CRM", "HR"]}, {"zajmy": "CRM"}):
        with uow() as u, pytest.raises(ValidationFailed):
            handlers.create_client(u, {"name": "X", "custom_fields": values})


def test_unknown_required_and_unique(uow):
    _define(uow, key="smlouva", type="text", required=True)
    _define(uow, key="kod_erp", type="text", unique=True)
    with uow() as u, pytest.raises(ValidationFailed) as exc:
        handlers.create_client(u, {"name": "X", "custom_fields": {"barva": "red"}})
    assert set(exc.value.errors) == {"custom_fields.barva", "custom_fields.smlouva"}
    first = _create(uow, custom_fields={"smlouva": "S-1", "kod_erp": "E-1"})
    with uow() as u, pytest.raises(ValidationFailed) as exc:
        handlers.create_client(u, {"name": "Y", "custom_fields": {"smlouva": "S-2",
                                                                   "kod_erp": "E-1"}})
    assert list(exc.value.errors) == ["custom_fields.kod_erp"]
    with uow() as u:  # its own value is no duplicate of itself
        same = handlers.update_client(u, first["id"], {"custom_fields": {"kod_erp": "E-1"}})
    assert same["custom_fields"]["kod_erp"] == "E-1"
    with uow() as u, pytest.raises(ValidationFailed):
        handlers.update_client(u, first["id"], {"custom_fields": {"smlouva": None}})
    with uow() as u:
        results = handlers.create_clients(u, [
            {"name": "A", "custom_fields": {"smlouva": "1", "kod_erp": "E-2"}},
            {"name": "B", "custom_fields": {"smlouva": "2", "kod_erp": "E-2"}},
            {"name": "C", "custom_fields": {"smlouva": "3", "kod_erp": "E-1"}}])
    assert [r["status"] for r in results] == [201, 422, 422]


def test_patch_merges_key_by_key_and_null_removes(uow):
    _define(uow, key="a", type="text")
    _define(uow, key="b", type="number")
    client = _create(uow, custom_fields={"a": "x", "b": 1})
    with uow() as u:
        updated = handlers.update_client(u, client["id"], {"custom_fields": {"b": None}})
    assert updated["custom_fields"] == {"a": "x"}
    [event] = [e for e in _events(uow, "client.updated")]
    assert event["data"]["changes"]["custom_fields"] == {"before": {"a": "x", "b": 1},
                                                         "after": {"a": "x"}}


def test_a_retired_field_keeps_its_values_and_refuses_new_ones(uow):
    definition = _define(uow, key="stara", type="text")
    client = _create(uow, custom_fields={"stara": "hodnota"})
    with uow() as u:
        retired = custom.retire_definition(u, definition["id"])
    assert retired["retired_at"]
    with uow() as u:
        assert handlers.get_client(u, client["id"])["custom_fields"] == {"stara": "hodnota"}
        assert custom.list_definitions(u, "client")["items"] == []
        assert len(custom.list_definitions(u, "client", include_retired=True)["items"]) == 1
    with uow() as u, pytest.raises(ValidationFailed) as exc:
        handlers.update_client(u, client["id"], {"custom_fields": {"stara": "nová"}})
    assert "retired" in exc.value.errors["custom_fields.stara"][0]
    with pytest.raises(Conflict):
        _define(uow, key="stara", type="text")
    assert [e["type"] for e in _events(uow, "custom_field.")] == [
        "custom_field.created", "custom_field.retired"]


@pytest.mark.parametrize("definition, field", [
    ({"key": "Bad Key", "type": "text"}, "key"),
    ({"key": "x", "type": "colour"}, "type"),
    ({"key": "x", "type": "choice"}, "choices"),
    ({"key": "x", "type": "text", "choices": ["a"]}, "choices"),
    ({"key": "x", "type": "bool", "unique": True}, "unique"),
    ({"key": "x", "type": "choice", "choices": ["a", "a"]}, "choices"),
    ({"key": "x", "type": "text", "applies_to": "invoice"}, "applies_to"),
    ({"key": "abc\n", "type": "text"}, "key"),
])
def test_bad_definitions_are_refused(uow, definition, field):
    with uow() as u, pytest.raises(ValidationFailed) as exc:
        custom.create_definition(u, {"applies_to": "client", "label": "L", **definition})
    assert field in exc.value.errors


def test_update_changes_label_choices_and_required_only(uow):
    definition = _define(uow, key="segment", type="choice", choices=["SMB"])
    with uow() as u:
        updated = custom.update_definition(u, definition["id"], {
            "label": "Segment", "choices": ["SMB", "Enterprise"]})
    assert updated["choices"] == ["SMB", "Enterprise"] and updated["version"] == 2
    with uow() as u, pytest.raises(ValidationFailed):
        custom.update_definition(u, definition["id"], {"type": "text"})
    with uow() as u:
        custom.retire_definition(u, definition["id"])
    with uow() as u, pytest.raises(Conflict):
        custom.update_definition(u, definition["id"], {"label": "Starý"})


def test_contacts_have_their_own_fields(uow):
    _define(uow, key="linkedin", type="url", applies_to="contact")
    client = _create(uow)
    with uow() as u:
        jan = contact_handlers.add_contact(u, client["id"], {
            "last_name": "Novák", "custom_fields": {"linkedin": "https://linkedin.com/in/jan"}})
    assert jan["custom_fields"] == {"linkedin": "https://linkedin.com/in/jan"}
    with uow() as u, pytest.raises(ValidationFailed):  # a contact field is not a client's
        handlers.create_client(u, {"name": "X", "custom_fields": {"linkedin": "https://x"}})
