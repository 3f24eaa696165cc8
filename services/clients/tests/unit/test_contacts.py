"""Contact persons: linked to several clients, one primary per client, history, events."""
import json

import pytest
from sqlalchemy import select

from clients_service import contact_handlers as contacts, handlers
from crm_common.errors import Conflict, NotFound, PreconditionFailed, ValidationFailed
from crm_common.messaging import outbox


def _events(uow_factory, event_type):
    with uow_factory() as u:
        events = [json.loads(r.payload) for r in u.session.execute(
            select(outbox).order_by(outbox.c.id))]
    return [e for e in events if e["type"] == event_type]


def _client(uow_factory, name="Dvořák a syn"):
    with uow_factory() as u:
        return handlers.create_client(u, {"name": name})


def _add(uow_factory, client_id, **payload):
    with uow_factory() as u:
        return contacts.add_contact(u, client_id, payload)


def _listed(uow_factory, client_id):
    with uow_factory() as u:
        return contacts.list_contacts(u, client_id)["items"]


def test_a_contact_person_with_a_degree_and_normalised_phones(uow):
    client = _client(uow)
    jan = _add(uow, client["id"], first_name=" Jan ", last_name="Novák", degree="Ing.",
               position="jednatel", phones=[{"value": "603 111 222"}],
               emails=[{"value": "jan@dvorak.cz", "label": "práce"}])
    assert jan["name"] == "Ing. Jan Novák" and jan["first_name"] == "Jan"
    assert jan["phone"] == "+420603111222" and jan["email"] == "jan@dvorak.cz"
    assert jan["clients"] == [{"client_id": client["id"], "position": "jednatel",
                               "primary": True}]  # the first one is the primary one
    [event] = _events(uow, "contact.created")
    assert event["data"]["client_id"] == client["id"]
    assert event["data"]["contact"]["name"] == "Ing. Jan Novák"
    with uow() as u:
        [entry, _] = handlers.client_history(u, client["id"])["items"]
    assert entry["action"] == "contact_added"
    assert entry["changes"]["contacts"]["after"]["name"] == "Ing. Jan Novák"


def test_making_one_primary_unsets_the_other(uow):
    client = _client(uow)
    jan = _add(uow, client["id"], last_name="Novák")
    eva = _add(uow, client["id"], last_name="Dvořáková", primary=True)
    listed = _listed(uow, client["id"])
    assert [(c["id"], c["link"]["primary"]) for c in listed] == [(eva["id"], True),
                                                                 (jan["id"], False)]
    with uow() as u:
        contacts.update_link(u, client["id"], jan["id"], {"primary": True})
    assert [c["id"] for c in _listed(uow, client["id"]) if c["link"]["primary"]] == \
        [jan["id"]]


def test_one_person_works_with_several_clients(uow):
    first, second = _client(uow, "První"), _client(uow, "Druhá")
    jan = _add(uow, first["id"], last_name="Novák", position="nákupčí")
    linked = _add(uow, second["id"], contact_id=jan["id"], position="konzultant",
                  primary=False)
    assert [(link["client_id"], link["position"]) for link in linked["clients"]] == [
        (first["id"], "nákupčí"), (second["id"], "konzultant")]
    [event] = _events(uow, "contact.updated")
    assert [c["client_id"] for c in event["data"]["changes"]["clients"]["after"]] == \
        [first["id"], second["id"]]
    with pytest.raises(Conflict):
        _add(uow, second["id"], contact_id=jan["id"])
    with uow() as u:
        left = contacts.remove_link(u, first["id"], jan["id"])
    assert [link["client_id"] for link in left["clients"]] == [second["id"]]
    assert _listed(uow, first["id"]) == []


def test_edit_with_if_match_and_delete(uow):
    client = _client(uow)
    jan = _add(uow, client["id"], first_name="Jan", last_name="Novák")
    with uow() as u:
        edited = contacts.update_contact(u, jan["id"], {"degree": "Mgr."},
                                         if_match=jan["version"])
    assert edited["name"] == "Mgr. Jan Novák" and edited["version"] == jan["version"] + 1
    with uow() as u, pytest.raises(PreconditionFailed):
        contacts.update_contact(u, jan["id"], {"degree": "Ing."}, if_match=jan["version"])
    with uow() as u, pytest.raises(ValidationFailed):
        contacts.update_contact(u, jan["id"], {"first_name": None, "last_name": " "})
    with uow() as u:
        contacts.delete_contact(u, jan["id"])
    with uow() as u, pytest.raises(NotFound):
        contacts.get_contact(u, jan["id"])
    assert _listed(uow, client["id"]) == []
    [deleted] = _events(uow, "contact.deleted")
    assert deleted["data"]["client_ids"] == [client["id"]]


@pytest.mark.parametrize("payload, field", [
    ({}, "last_name"), ({"first_name": " "}, "last_name"),
    ({"last_name": "X", "phones": [{"value": "12"}]}, "phones"),
    ({"last_name": "X", "custom_fields": {"vip": True}}, "custom_fields"),
    ({"last_name": "X", "shoe_size": 44}, "shoe_size"),
])
def test_invalid_contacts_are_refused(uow, payload, field):
    client = _client(uow)
    with uow() as u, pytest.raises(ValidationFailed) as exc:
        contacts.add_contact(u, client["id"], payload)
    assert any(name.split(".")[0] == field for name in exc.value.errors)
    assert _listed(uow, client["id"]) == []


def test_contacts_of_a_missing_client_or_person(uow):
    client = _client(uow)
    with uow() as u, pytest.raises(NotFound):
        contacts.add_contact(u, "nope", {"last_name": "X"})
    with uow() as u, pytest.raises(NotFound):
        contacts.add_contact(u, client["id"], {"contact_id": "nope"})
    with uow() as u, pytest.raises(NotFound):
        contacts.update_link(u, client["id"], "nope", {"primary": True})


def test_vcards_parse_back_with_diacritics_intact(uow):
    import vobject
    client = _client(uow, "Žluťoučký kůň, s.r.o.")
    _add(uow, client["id"], first_name="Jiří", last_name="Dvořák", degree="Ing.",
         position="jednatel", phones=[{"value": "603 111 222", "label": "cell"}],
         emails=[{"value": "jiri@kun.cz"}], note="Volat ráno; ne v pátek")
    _add(uow, client["id"], first_name="Šárka", last_name="Říhová")
    with uow() as u:
        text = contacts.client_vcards(u, client["id"])
    cards = list(vobject.readComponents(text))
    assert [card.fn.value for card in cards] == ["Ing. Jiří Dvořák", "Šárka Říhová"]
    jiri = cards[0]
    assert jiri.version.value == "4.0" and jiri.n.value.family == "Dvořák"
    assert jiri.n.value.prefix == "Ing." and jiri.title.value == "jednatel"
    assert jiri.org.value == ["Žluťoučký kůň, s.r.o."]
    assert jiri.tel.value == "tel:+420603111222" and jiri.email.value == "jiri@kun.cz"
    assert jiri.note.value == "Volat ráno; ne v pátek"
    with uow() as u:
        [single] = vobject.readComponents(contacts.contact_vcard(
            u, contacts.list_contacts(u, client["id"])["items"][1]["id"]))
    assert single.fn.value == "Šárka Říhová"


def test_a_clients_contacts_come_a_page_at_a_time(uow):
    client = _client(uow)
    for name in ("Adam", "Bartoš", "Cibulka"):
        _add(uow, client["id"], last_name=name)
    with uow() as u:
        first = contacts.list_contacts(u, client["id"], limit=2)
        rest = contacts.list_contacts(u, client["id"], limit=2, cursor=first["next_cursor"])
    names = [c["last_name"] for c in first["items"] + rest["items"]]
    assert names == ["Adam", "Bartoš", "Cibulka"]  # Adam, the first, is the primary one
    assert rest["next_cursor"] is None
    with uow() as u, pytest.raises(ValidationFailed):
        contacts.list_contacts(u, client["id"], cursor="garbage")


def test_a_label_never_writes_into_the_vcards_syntax(uow):
    import vobject
    client = _client(uow)
    _add(uow, client["id"], last_name="Novák", emails=[
        {"value": "a@b.cz", "label": 'x"y'}, {"value": "c@d.cz", "label": "work\r\nX-INJ:1"},
        {"value": "e@f.cz", "label": "fakturace"}])
    with uow() as u:
        text = contacts.client_vcards(u, client["id"])
    assert "X-INJ" not in text
    [card] = vobject.readComponents(text)
    emails = {line.value: line.params.get("TYPE") for line in card.contents["email"]}
    assert emails == {"a@b.cz": None, "c@d.cz": None, "e@f.cz": ["fakturace"]}
