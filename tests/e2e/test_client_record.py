"""The complete client record through the gateway, every service running: safe edits,
archive, history, and the timeline and registry reacting to them."""
import json
import threading
from pathlib import Path

import jsonschema
import requests

from crm_common.testing import wait_until

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "events"
SAD = "25063677"  # the fake ARES serves it: SAD s.r.o.

RECORD = {
    "kind": "company", "name": "Dvořák a syn s.r.o.",
    "emails": [{"value": "obchod@dvorak.cz", "label": "obchod"}],
    "phones": [{"value": "603 111 222", "label": "mobil"}],
    "website": "https://dvorak.example", "industry": "stavebnictví",
    "relationship": "customer", "category": "A", "tags": ["VIP", "Brno"],
    "owner_id": "user:jana", "contact_address": {"street": "Údolní 5", "city": "Brno"},
    "delivery_addresses": [{"city": "Zlín"}],
    "bank_accounts": [{"number": "19-2000145399/0800", "currency": "CZK", "primary": True}],
    "billing": {"currency": "CZK", "payment_terms_days": 14, "credit_limit": "250000.00",
                "price_group": "VO"},
    "contact_preferences": {"preferred_channel": "email", "do_not_contact": False},
}


def _create(system, body=None) -> tuple[dict, str]:
    response = system.api.post("/api/v1/clients", json=body or RECORD)
    assert response.status_code == 201, response.text
    return response.json(), response.headers.get("ETag")


def _get(system, client_id) -> requests.Response:
    response = system.api.get(f"/api/v1/clients/{client_id}")
    assert response.status_code == 200, response.text
    return response


def _history(system, client_id) -> list[dict]:
    response = system.api.get(f"/api/v1/clients/{client_id}/history")
    assert response.status_code == 200, response.text
    return response.json()["items"]


def _timeline_titles_when(system, client_id, predicate, timeout=20):
    def check():
        items = system.api.get(f"/api/v1/clients/{client_id}/timeline").json()["items"]
        titles = [item["title"] for item in items]
        return titles if predicate(titles) else None
    return wait_until(check, timeout=timeout, what=f"timeline of {client_id}")


def test_the_whole_record_is_kept_as_sent(system):
    client, _ = _create(system)
    got = _get(system, client["id"]).json()
    for name, value in RECORD.items():
        if name != "phones":
            assert got[name] == value, name
    assert got["phones"] == [{"value": "+420603111222", "label": "mobil"}]
    assert got["email"] == "obchod@dvorak.cz" and got["phone"] == "+420603111222"
    assert got["created_by"] == "admin:bootstrap" and got["archived_at"] is None


def test_a_stale_if_match_is_412_and_changes_nothing(system):
    client, _ = _create(system)
    etag = _get(system, client["id"]).headers["ETag"]
    first = system.api.patch(f"/api/v1/clients/{client['id']}", json={"category": "B"},
                             headers={"If-Match": etag})
    assert first.status_code == 200, first.text
    assert first.headers["ETag"] != etag
    stale = system.api.patch(f"/api/v1/clients/{client['id']}", json={"category": "C"},
                             headers={"If-Match": etag})
    assert stale.status_code == 412, stale.text
    assert stale.headers["Content-Type"].startswith("application/problem+json")
    assert _get(system, client["id"]).json()["category"] == "B"
    assert [h["action"] for h in _history(system, client["id"])] == ["updated", "created"]
    titles = _timeline_titles_when(system, client["id"], lambda t: "Client updated" in t)
    assert titles.count("Client updated") == 1


def test_two_concurrent_edits_one_wins_the_other_gets_412(system):
    client, _ = _create(system)
    etag = _get(system, client["id"]).headers["ETag"]
    answers, start = [], threading.Barrier(2)

    def edit(industry):
        http = requests.Session()
        http.headers.update(system.api.http.headers)
        start.wait()
        answers.append(http.patch(f"{system.api.base}/api/v1/clients/{client['id']}",
                                  json={"industry": industry}, headers={"If-Match": etag},
                                  timeout=30))

    threads = [threading.Thread(target=edit, args=(name,)) for name in ("IT", "stavby")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [200, 412], [a.text for a in answers]
    winner = next(a for a in answers if a.status_code == 200).json()
    assert _get(system, client["id"]).json()["industry"] == winner["industry"]
    updates = [h for h in _history(system, client["id"]) if h["action"] == "updated"]
    assert len(updates) == 1
    assert updates[0]["changes"]["industry"]["after"] == winner["industry"]


def test_archive_leaves_the_lists_and_restore_brings_it_back(system):
    client, _ = _create(system, {"name": "Archivní s.r.o."})
    assert system.api.post(f"/api/v1/clients/{client['id']}/archive").status_code == 200

    def listed(archived=None):
        params = {"limit": 500, **({"archived": archived} if archived else {})}
        return {c["id"] for c in system.api.get("/api/v1/clients", params=params).json()[
            "items"]}
    assert client["id"] not in listed() and client["id"] in listed("only")
    assert client["id"] in listed("true")
    assert _get(system, client["id"]).json()["archived_at"]
    restored = system.api.post(f"/api/v1/clients/{client['id']}/restore")
    assert restored.status_code == 200 and restored.json()["archived_at"] is None
    assert client["id"] in listed()
    titles = _timeline_titles_when(system, client["id"], lambda t: "Client restored" in t)
    assert titles[:2] == ["Client restored", "Client archived"]
    assert [h["action"] for h in _history(system, client["id"])] == \
        ["restored", "archived", "created"]


def test_another_ico_is_looked_up_in_ares(system):
    client, _ = _create(system, {"name": "Zatím bez IČO"})
    system.free_ico(SAD)
    response = system.api.patch(f"/api/v1/clients/{client['id']}", json={"ico": SAD})
    assert response.status_code == 200, response.text
    assert response.json()["registry"]["status"] == "pending"

    def loaded():
        body = _get(system, client["id"]).json()
        return body if body["registry"] and body["registry"]["status"] == "ok" else None
    got = wait_until(loaded, timeout=20, what="registry data after the IČO changed")
    assert got["name"] == "SAD s.r.o."
    actions = [h["action"] for h in _history(system, client["id"])]
    assert actions[:2] == ["registry", "updated"]

    # a trade name overrides the register's; the register's stays visible beside it
    renamed = system.api.patch(f"/api/v1/clients/{client['id']}", json={"name": "Sad Cítov"})
    assert renamed.json()["registry_overrides"] == ["name"]
    assert renamed.json()["registry"]["values"]["name"] == "SAD s.r.o."
    back = system.api.patch(f"/api/v1/clients/{client['id']}",
                            json={"registry_overrides": []})
    assert back.json()["name"] == "SAD s.r.o." and back.json()["registry_overrides"] == []


def test_a_group_of_companies_and_a_cycle_refused(system):
    group, _ = _create(system, {"name": "Holding a.s."})
    daughter, _ = _create(system, {"name": "Dcera s.r.o.", "parent_id": group["id"]})
    granddaughter, _ = _create(system, {"name": "Vnučka s.r.o.",
                                        "parent_id": daughter["id"]})
    direct = system.api.get(f"/api/v1/clients/{group['id']}/subsidiaries").json()["items"]
    assert [c["id"] for c in direct] == [daughter["id"]]
    subtree = system.api.get(f"/api/v1/clients/{group['id']}/subsidiaries",
                             params={"depth": "all"}).json()["items"]
    assert [c["id"] for c in subtree] == [daughter["id"], granddaughter["id"]]
    cycle = system.api.patch(f"/api/v1/clients/{group['id']}",
                             json={"parent_id": granddaughter["id"]})
    assert cycle.status_code == 409 and "parent_id" in cycle.json()["detail"]
    assert _get(system, group["id"]).json()["parent_id"] is None


def test_contact_persons_on_the_card_in_the_timeline_and_as_vcards(system):
    import vobject
    client, _ = _create(system, {"name": "Žluťoučký kůň, s.r.o."})
    other, _ = _create(system, {"name": "Sesterská s.r.o."})
    base = f"/api/v1/clients/{client['id']}/contacts"
    added = system.api.post(base, json={
        "first_name": "Jiří", "last_name": "Dvořák", "degree": "Ing.", "position": "jednatel",
        "phones": [{"value": "603 111 222"}], "emails": [{"value": "jiri@kun.example"}]})
    assert added.status_code == 201, added.text
    jiri = added.json()
    assert added.headers["Location"].endswith(f"/api/v1/contacts/{jiri['id']}")
    sarka = system.api.post(base, json={"first_name": "Šárka", "last_name": "Říhová",
                                        "primary": True}).json()
    listed = system.api.get(base).json()["items"]
    assert [(c["id"], c["link"]["primary"]) for c in listed] == [(sarka["id"], True),
                                                                 (jiri["id"], False)]
    linked = system.api.post(f"/api/v1/clients/{other['id']}/contacts",
                             json={"contact_id": jiri["id"], "position": "poradce"})
    assert linked.status_code == 201, linked.text
    assert {c["client_id"] for c in linked.json()["clients"]} == {client["id"], other["id"]}

    got = system.api.get(f"/api/v1/contacts/{jiri['id']}")
    stale = system.api.patch(f"/api/v1/contacts/{jiri['id']}", json={"degree": "Mgr."},
                             headers={"If-Match": 'W/"99"'})
    assert stale.status_code == 412
    edited = system.api.patch(f"/api/v1/contacts/{jiri['id']}", json={"degree": "Mgr."},
                              headers={"If-Match": got.headers["ETag"]})
    assert edited.status_code == 200 and edited.json()["name"] == "Mgr. Jiří Dvořák"

    vcf = system.api.get(f"{base}/vcard")
    assert vcf.status_code == 200 and vcf.headers["Content-Type"].startswith("text/vcard")
    cards = list(vobject.readComponents(vcf.content.decode("utf-8")))
    assert [card.fn.value for card in cards] == ["Šárka Říhová", "Mgr. Jiří Dvořák"]
    assert cards[1].org.value == ["Žluťoučký kůň, s.r.o."]
    assert cards[1].tel.value == "tel:+420603111222"
    single = system.api.get(f"/api/v1/contacts/{jiri['id']}/vcard")
    assert next(vobject.readComponents(single.text)).fn.value == "Mgr. Jiří Dvořák"

    titles = _timeline_titles_when(system, client["id"],
                                   lambda t: t.count("Contact person added") == 2)
    assert titles.count("Contact person added") == 2
    actions = [h["action"] for h in _history(system, client["id"])]
    assert actions.count("contact_added") == 2

    assert system.api.delete(f"/api/v1/contacts/{sarka['id']}").status_code == 204
    assert [c["id"] for c in system.api.get(base).json()["items"]] == [jiri["id"]]
    assert system.api.get(f"/api/v1/contacts/{sarka['id']}").status_code == 404

    assert system.api.post(f"/api/v1/contacts/{jiri['id']}/erase").status_code == 200
    assert system.api.get(f"/api/v1/contacts/{jiri['id']}").status_code == 404

    def forgotten():
        texts = [system.api.get(path).text for path in (
            f"/api/v1/clients/{client['id']}/timeline", f"/api/v1/clients/{client['id']}/history",
            f"/api/v1/clients/{other['id']}/history")]
        return texts if not any("Jiří" in text or "Dvořák" in text for text in texts) else None
    wait_until(forgotten, timeout=20, what="the erased contact gone from timeline and history")


def test_custom_fields_defined_then_used_then_retired(system):
    key = "erp_code"
    defined = system.api.post("/api/v1/custom-fields", json={
        "key": key, "label": "Kód v ERP", "type": "text", "applies_to": "client",
        "unique": True})
    assert defined.status_code == 201, defined.text
    segment = system.api.post("/api/v1/custom-fields", json={
        "key": "segment", "label": "Segment", "type": "choice", "applies_to": "client",
        "choices": ["SMB", "Enterprise"]}).json()
    client, _ = _create(system, {"name": "S poli", "custom_fields": {
        key: "E-100", "segment": "SMB"}})
    assert client["custom_fields"] == {key: "E-100", "segment": "SMB"}

    duplicate = system.api.post("/api/v1/clients", json={"name": "Dvojník",
                                                        "custom_fields": {key: "E-100"}})
    assert duplicate.status_code == 422
    assert [e["field"] for e in duplicate.json()["errors"]] == [f"custom_fields.{key}"]
    wrong = system.api.patch(f"/api/v1/clients/{client['id']}",
                             json={"custom_fields": {"segment": "Huge"}})
    assert wrong.status_code == 422
    unknown = system.api.patch(f"/api/v1/clients/{client['id']}",
                               json={"custom_fields": {"nope": 1}})
    assert unknown.status_code == 422

    retired = system.api.post(f"/api/v1/custom-fields/{segment['id']}/retire")
    assert retired.status_code == 200 and retired.json()["retired_at"]
    active = system.api.get("/api/v1/custom-fields", params={"applies_to": "client"}).json()
    assert segment["id"] not in [d["id"] for d in active["items"]]
    assert _get(system, client["id"]).json()["custom_fields"]["segment"] == "SMB"
    refused = system.api.patch(f"/api/v1/clients/{client['id']}",
                               json={"custom_fields": {"segment": "Enterprise"}})
    assert refused.status_code == 422


def test_erasure_leaves_nothing_in_the_api_the_timeline_or_the_history(system):
    jana, _ = _create(system, {"kind": "person", "name": "Jana Nováková",
                               "email": "jana.novakova@example.cz", "phone": "603 987 654"})
    system.api.patch(f"/api/v1/clients/{jana['id']}", json={"description": "tajná věc"})
    note = system.api.post(f"/api/v1/clients/{jana['id']}/notes",
                           json={"title": "Schůzka s Janou", "body": "Jana Nováková chce slevu"})
    assert note.status_code == 201
    _timeline_titles_when(system, jana["id"], lambda t: "Client updated" in t)

    erased = system.api.post(f"/api/v1/clients/{jana['id']}/erase")
    assert erased.status_code == 200, erased.text
    secrets = ("Jana", "Nováková", "novakova", "603 987 654", "+420603987654", "tajná",
               "slevu")

    def clean():
        texts = [system.api.get(path).text for path in (
            f"/api/v1/clients/{jana['id']}", f"/api/v1/clients/{jana['id']}/history",
            f"/api/v1/clients/{jana['id']}/timeline")]
        return texts if not any(s in text for s in secrets for text in texts) else None
    wait_until(clean, timeout=20, what="the erased values gone from every view")
    titles = _timeline_titles_when(system, jana["id"],
                                   lambda t: "Personal data erased" in t)
    assert "Client created" in titles  # what happened stays, not what was said
    assert _history(system, jana["id"])[0]["action"] == "erased"
    company, _ = _create(system, {"name": "Firma s.r.o."})
    assert system.api.post(f"/api/v1/clients/{company['id']}/erase").status_code == 409


def test_the_client_card_brings_the_sections_together(system):
    group, _ = _create(system, {"name": "Karta Holding a.s."})
    firma, _ = _create(system, {"name": "Karta s.r.o.", "parent_id": group["id"]})
    system.api.post(f"/api/v1/clients/{firma['id']}/contacts", json={"last_name": "Karta"})
    _timeline_titles_when(system, firma["id"], lambda t: "Contact person added" in t)
    card = system.api.get(f"/api/v1/clients/{firma['id']}/card")
    assert card.status_code == 200, card.text
    card = card.json()
    assert card["client"]["id"] == firma["id"]
    assert card["parent"]["client"]["id"] == group["id"]
    assert [c["last_name"] for c in card["contacts"]["items"]] == ["Karta"]
    assert card["subsidiaries"] == {"status": "ok", "items": [], "next_cursor": None}
    assert "Contact person added" in [e["title"] for e in card["timeline"]["items"]]
    assert system.api.get("/api/v1/clients/nope/card").status_code == 404


def test_every_event_of_these_flows_matches_its_schema(system):
    system.tap.poll()
    seen = set()
    for event in system.tap.events:
        schema = json.loads((SCHEMAS / f"{event['type']}.v1.json").read_text())
        jsonschema.validate(event, schema, format_checker=jsonschema.FormatChecker())
        seen.add(event["type"])
    assert seen >= {"client.created", "client.updated", "client.archived",
                    "client.restored", "contact.created", "contact.updated",
                    "contact.deleted", "custom_field.created", "custom_field.retired",
                    "client.erased"}
