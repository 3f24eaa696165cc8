from datetime import datetime, timedelta, timezone

import pytest

from clients_service.domain import Client, InvalidValue, normalize_dic, normalize_ico

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize("typed, stored", [
    ("25063677", "25063677"), ("1569651", "01569651"), (1569651, "01569651"),
    (" 2506 3677 ", "25063677"), ("", None), (None, None)])
def test_ico_is_normalized_and_zero_padded(typed, stored):
    assert normalize_ico(typed) == stored


@pytest.mark.parametrize("bad", ["25063678", "1569652", "abc", "123456789", "2506367a"])
def test_bad_ico_names_the_field(bad):
    with pytest.raises(InvalidValue) as exc:
        normalize_ico(bad)
    assert exc.value.field == "ico"


def test_dic_is_checked_by_stdnum():
    assert normalize_dic("cz 25063677") == "CZ25063677"
    assert normalize_dic("DE136695976") == "DE136695976"
    with pytest.raises(InvalidValue):
        normalize_dic("CZ25063678")


def _client(**kw):
    return Client(id="c1", name="Superfaktura", ico="25063677", created_at=T0, updated_at=T0,
                  registry_status="pending", **kw)


RECORD = {"name": "SAD s.r.o.", "dic": "CZ25063677", "vat_payer": True, "legal_form": "112",
          "legal_form_name": "Společnost s ručením omezeným", "nace": ["471", "5590"],
          "registered_address": {"street": "Daminěves 35", "city": "Cítov",
                                 "postal_code": "27704", "country_code": "CZ",
                                 "text": "Daminěves 35, 27704 Cítov"},
          "vat_group_dic": None}


def test_registry_data_is_applied_with_before_and_after():
    client = _client()
    changes = client.apply_registry(RECORD, T0 + timedelta(minutes=1), T0 + timedelta(minutes=1))
    assert changes["name"] == {"before": "Superfaktura", "after": "SAD s.r.o."}
    assert changes["vat_payer"] == {"before": None, "after": True}
    assert changes["registry"]["after"]["status"] == "ok"
    assert "vat_group_dic" not in changes  # the register gave none, the client has none
    assert client.version == 2 and client.registry["fetched_at"] == "2026-01-01T00:01:00Z"


def test_an_older_lookup_never_rolls_back_a_newer_one():
    client = _client()
    client.apply_registry(RECORD, T0 + timedelta(hours=2), T0)
    older = dict(RECORD, name="SAD old name")
    assert client.apply_registry(older, T0 + timedelta(hours=1), T0) == {}
    assert client.name == "SAD s.r.o."


def test_unchanged_data_still_records_the_fetch():
    client = _client()
    client.apply_registry(RECORD, T0 + timedelta(hours=1), T0)
    changes = client.apply_registry(RECORD, T0 + timedelta(hours=2), T0)
    assert list(changes) == ["registry"]


def test_failed_lookup_keeps_data_and_sets_status():
    client = _client()
    changes = client.mark_registry("not_found", T0, T0)
    assert changes["registry"]["after"]["status"] == "not_found"
    assert client.name == "Superfaktura"
    assert client.mark_registry("not_found", T0, T0) == {}  # nothing new


def test_outage_does_not_downgrade_loaded_data():
    client = _client()
    client.apply_registry(RECORD, T0, T0)
    assert client.mark_registry("unavailable", T0 + timedelta(hours=1), T0) == {}
    assert client.registry_status == "ok"


def test_answers_delivered_late_never_win_over_newer_ones():
    client = _client()
    client.mark_registry("not_found", T0 + timedelta(hours=2), T0)
    assert client.apply_registry(RECORD, T0 + timedelta(hours=1), T0) == {}  # older success
    assert client.mark_registry("unavailable", T0 + timedelta(hours=1), T0) == {}
    assert client.registry_status == "not_found" and client.name == "Superfaktura"
    assert client.apply_registry(RECORD, T0 + timedelta(hours=3), T0)["registry"]


def test_what_the_register_leaves_out_keeps_what_the_user_entered():
    address = {"street": "Dlouhá 1", "city": "Praha", "postal_code": "11000",
               "country_code": "CZ", "text": "Dlouhá 1, 11000 Praha"}
    client = _client(dic="CZ25063677", registered_address=address)
    sparse = {"name": "SAD s.r.o.", "dic": None, "vat_payer": False, "nace": [],
              "registered_address": dict.fromkeys(address)}
    changes = client.apply_registry(sparse, T0, T0)
    assert client.dic == "CZ25063677" and client.registered_address == address
    assert set(changes) == {"name", "vat_payer", "registry"}


def test_vat_group_and_dissolution_are_kept():
    client = _client()
    client.apply_registry(dict(RECORD, vat_group_dic="CZ699000001",
                               dissolved_on="2009-06-30"), T0, T0)
    assert client.vat_group_dic == "CZ699000001" and client.dissolved_on == "2009-06-30"
