"""AresClient against a real FakeAres on a random port."""
import socket

import pytest

from ares_service.client import AresClient, LookupResult, is_valid_ico, normalize_ico
from ares_service.fake import FakeAres


class Counter:
    def __init__(self):
        self.calls = 0

    def __call__(self):
        self.calls += 1


@pytest.fixture
def client(fake_ares):
    with AresClient(fake_ares.url, read_timeout=5) as c:
        yield c


def test_found(client, fake_ares):
    result = client.lookup("25063677")
    assert result.status == "found" and result.http_status == 200
    assert result.ico == "25063677"
    assert result.record["name"] == "SAD s.r.o."
    assert result.record["vat_payer"] is True
    assert result.raw["ico"] == "25063677"
    assert fake_ares.requests == ["/ekonomicke-subjekty-v-be/rest/ekonomicke-subjekty/25063677"]


def test_not_found(client):
    result = client.lookup("25596641")
    assert result.status == "not_found" and result.http_status == 404
    assert "Nebyl nalezen" in result.detail
    assert result.record is None


@pytest.mark.parametrize("value", ["123456789", "ABC12345", "", "2506-3677", None])
def test_invalid_format_is_never_sent(client, fake_ares, value):
    result = client.lookup(value)
    assert result.status == "invalid"
    assert result.http_status is None
    assert fake_ares.requests == []


def test_wrong_check_digit_makes_no_http_call(client, fake_ares):
    result = client.lookup("25063678")
    assert result.status == "invalid" and "check digit" in result.detail
    assert fake_ares.requests == []


def test_short_ico_is_zero_padded(client, fake_ares):
    result = client.lookup("1603094")
    assert result.status == "found" and result.ico == "01603094"
    assert result.record["dic"] is None and result.record["vat_payer"] is False
    assert fake_ares.requests == ["/ekonomicke-subjekty-v-be/rest/ekonomicke-subjekty/01603094"]


def test_server_error_is_unavailable(client, fake_ares):
    fake_ares.set_mode("error500")
    result = client.lookup("25063677")
    assert result.status == "unavailable" and result.http_status == 500
    assert result.detail.startswith("HTTP 500")
    assert len(fake_ares.requests) == 1  # 500 is not in the retry list


def test_hang_is_unavailable_after_retried_read_timeouts(fake_ares):
    fake_ares.set_mode("hang")
    with AresClient(fake_ares.url, read_timeout=0.3, retries=1, backoff_factor=0.01) as client:
        result = client.lookup("25063677")
    assert result.status == "unavailable"
    assert "ReadTimeout" in result.detail
    assert len(fake_ares.requests) == 2  # read timeouts are retried like connect timeouts


def closed_port_url():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/ekonomicke-subjekty-v-be/rest"


def test_closed_port_is_unavailable_and_retries_are_throttled():
    counter = Counter()
    with AresClient(closed_port_url(), retries=2, throttle=counter) as client:
        result = client.lookup("25063677")
    assert result.status == "unavailable" and result.http_status is None
    assert "ConnectionError" in result.detail
    assert counter.calls == 3  # the first request and both retries took a token


class ScriptedAres(FakeAres):
    """FakeAres that answers the first requests from a script, then normally."""

    def __init__(self, script):
        super().__init__()
        self.script = list(script)

    def handle(self, method, path, body):
        if self.script:
            self.requests.append(path)
            return self.script.pop(0)
        return super().handle(method, path, body)


def test_gateway_errors_are_retried():
    with ScriptedAres([(503, b"{}"), (502, b"")]) as fake:
        counter = Counter()
        with AresClient(fake.url, retries=2, throttle=counter) as client:
            result = client.lookup("68407700")
    assert result.status == "found"
    assert len(fake.requests) == 3
    assert counter.calls == 3


def test_persistent_503_is_unavailable():
    with ScriptedAres([(503, b"{}")] * 3) as fake:
        with AresClient(fake.url, retries=2) as client:
            result = client.lookup("68407700")
    assert result.status == "unavailable" and result.http_status == 503


@pytest.mark.parametrize("body", [b"<html>maintenance</html>", b"[]", b'{"kod": "X"}', b"null"])
def test_unusable_200_body_is_unavailable(body):
    with ScriptedAres([(200, body)]) as fake:
        with AresClient(fake.url) as client:
            result = client.lookup("25063677")
    assert result.status == "unavailable" and result.http_status == 200


def test_400_from_ares_is_invalid():
    with ScriptedAres([(400, b'{"kod": "CHYBA_VSTUPU", "subKod": "VSTUP_NEVALIDNI_FORMAT_ICO"}')]) as fake:
        with AresClient(fake.url) as client:
            result = client.lookup("25063677")
    assert result.status == "invalid" and result.detail == "VSTUP_NEVALIDNI_FORMAT_ICO"


def test_throttle_object_is_acquired_before_each_lookup(fake_ares):
    class Bucket:
        calls = 0

        def acquire(self):
            Bucket.calls += 1

    with AresClient(fake_ares.url, throttle=Bucket()) as client:
        client.lookup("25063677")
        client.lookup("12345678")  # invalid check digit: no request, no token
    assert Bucket.calls == 1


def test_result_is_frozen():
    result = LookupResult("found", "25063677")
    with pytest.raises(AttributeError):
        result.status = "invalid"


@pytest.mark.parametrize("value, expected", [
    ("1603094", "01603094"), (1603094, "01603094"), (" 25 06 36 77 ", "25063677"), ("123456789", "123456789"),
])
def test_normalize_ico(value, expected):
    assert normalize_ico(value) == expected


@pytest.mark.parametrize("value, valid", [
    ("25063677", True), ("68407700", True), ("1603094", True), ("25063678", False),
    ("123456789", False), ("2506367x", False), ("", False),
])
def test_is_valid_ico(value, valid):
    assert is_valid_ico(value) is valid


# -- backoff -----------------------------------------------------------------------------------

def test_backoff_is_exponential_with_jitter_from_the_first_retry():
    from urllib3.util.retry import RequestHistory

    from ares_service.client import _ThrottledRetry

    failure = RequestHistory("GET", "/x", None, 503, None)
    for failures in (1, 2, 3):
        retry = _ThrottledRetry(total=5, backoff_factor=0.1, backoff_jitter=0.1,
                                history=(failure,) * failures)
        waits = {retry.get_backoff_time() for _ in range(20)}
        base = 0.1 * 2 ** (failures - 1)
        assert all(base <= w <= base + 0.1 for w in waits)
        assert len(waits) > 1  # jittered
    assert _ThrottledRetry(total=5, backoff_factor=0.1).get_backoff_time() == 0.0  # first try


# -- lookup_many -------------------------------------------------------------------------------

def _valid_icos(count):
    from stdnum.cz.dic import calc_check_digit_legal

    return [f"{n:07d}" + calc_check_digit_legal(f"{n:07d}") for n in range(1000, 1000 + count)]


def test_lookup_many_one_search_for_many(client, fake_ares):
    results = client.lookup_many(["25063677", "68407700", "25596641", "25063678", "1603094",
                                  "01603094", " 25063677 "])
    assert list(results) == ["25063677", "68407700", "25596641", "25063678", "01603094"]
    assert {ico: r.status for ico, r in results.items()} == {
        "25063677": "found", "68407700": "found", "25596641": "not_found",
        "25063678": "invalid", "01603094": "found"}
    assert results["25063677"].record["name"] == "SAD s.r.o."
    assert results["25063677"].raw["ico"] == "25063677"
    assert "vyhledat" in results["25596641"].detail
    assert results["25063678"].http_status is None
    assert fake_ares.requests == ["/ekonomicke-subjekty-v-be/rest/ekonomicke-subjekty/vyhledat"]
    assert fake_ares.stats()["icos"] == 4  # the invalid IČO was never sent


def test_lookup_many_single_valid_ico_uses_the_get(client, fake_ares):
    results = client.lookup_many(["25596641", "123"])
    assert results["25596641"].status == "not_found" and results["25596641"].http_status == 404
    assert "Nebyl nalezen" in results["25596641"].detail  # ARES's own words, not the search's
    assert results["00000123"].status == "invalid"
    assert fake_ares.requests == ["/ekonomicke-subjekty-v-be/rest/ekonomicke-subjekty/25596641"]


def test_lookup_many_nothing_to_send(client, fake_ares):
    assert client.lookup_many([]) == {}
    assert client.lookup_many(["x", None])["x"].status == "invalid"
    assert fake_ares.requests == []
    with pytest.raises(TypeError):
        client.lookup_many("25063677")


def test_lookup_many_limit(client, fake_ares):
    assert len(client.lookup_many(_valid_icos(100) + ["25063678"])) == 101
    with pytest.raises(ValueError):
        client.lookup_many(_valid_icos(101))
    assert len(fake_ares.requests) == 1  # the 101 were refused before any request


def test_lookup_many_400_is_invalid_for_every_ico_and_not_retried():
    body = b'{"kod": "CHYBA_VSTUPU", "subKod": "VSTUP_NEVALIDNI_FORMAT_ICO"}'
    with ScriptedAres([(400, body)]) as fake:
        with AresClient(fake.url) as client:
            results = client.lookup_many(["25063677", "68407700"])
    assert [(r.status, r.detail, r.http_status) for r in results.values()] == \
        [("invalid", "VSTUP_NEVALIDNI_FORMAT_ICO", 400)] * 2
    assert len(fake.requests) == 1


def test_lookup_many_retries_the_post_on_gateway_errors():
    with ScriptedAres([(503, b"{}")]) as fake:
        with AresClient(fake.url, backoff_factor=0.01) as client:
            results = client.lookup_many(["25063677", "68407700"])
    assert {r.status for r in results.values()} == {"found"}
    assert len(fake.requests) == 2


@pytest.mark.parametrize("answer", [
    (500, b'{"kod": "OBECNA_CHYBA"}'), (503, b""), (200, b"<html>"), (200, b"[]"),
    (200, b'{"pocetCelkem": 1}'), (200, b'{"ekonomickeSubjekty": {"ico": "25063677"}}'),
])
def test_lookup_many_unusable_answer_is_unavailable_for_every_ico(answer):
    with ScriptedAres([answer] * 3) as fake:
        with AresClient(fake.url, backoff_factor=0.01) as client:
            results = client.lookup_many(["25063677", "68407700"])
    assert {r.status for r in results.values()} == {"unavailable"}
    assert all(r.detail for r in results.values())


def test_lookup_many_skips_entries_without_ico(caplog):
    body = b'{"pocetCelkem": 3, "ekonomickeSubjekty": [1, {"obchodniJmeno": "X"}, {"ico": 25063677}]}'
    with ScriptedAres([(200, body)]) as fake:
        with AresClient(fake.url) as client:
            results = client.lookup_many(["25063677", "68407700"])
    assert results["25063677"].status == "found" and results["25063677"].record["ico"] == "25063677"
    assert results["68407700"].status == "not_found"
    assert "without an IČO" in caplog.text


def test_lookup_many_timeout_and_refused_are_unavailable(fake_ares):
    fake_ares.set_mode("hang")
    with AresClient(fake_ares.url, read_timeout=0.2, retries=0) as client:
        assert {r.status for r in client.lookup_many(["25063677", "68407700"]).values()} == {"unavailable"}
    with AresClient(closed_port_url(), retries=0) as client:
        results = client.lookup_many(["25063677", "68407700"])
    assert all(r.status == "unavailable" and "ConnectionError" in r.detail for r in results.values())


# -- statutory_body ----------------------------------------------------------------------------

def test_statutory_body(client, fake_ares):
    result = client.statutory_body("25063677")
    assert result.status == "found" and result.http_status == 200
    assert {p["name"] for p in result.record["people"]} == {"Ing. Lenka Kučerová", "Koen Quaghebeur"}
    assert result.raw["icoId"] == "25063677"
    assert fake_ares.requests == ["/ekonomicke-subjekty-v-be/rest/ekonomicke-subjekty-vr/25063677"]


def test_statutory_body_of_a_sole_trader_is_not_found(client):
    result = client.statutory_body("1603094")
    assert result.status == "not_found" and result.http_status == 404 and result.ico == "01603094"


def test_statutory_body_invalid_ico_is_never_sent(client, fake_ares):
    assert client.statutory_body("25063678").status == "invalid"
    assert fake_ares.requests == []


@pytest.mark.parametrize("answer, status", [
    ((400, b'{"subKod": "VSTUP_NEVALIDNI_FORMAT_ICO"}'), "invalid"),
    ((500, b"{}"), "unavailable"), ((200, b"nonsense"), "unavailable"), ((200, b'{"icoId": "1"}'), "unavailable"),
])
def test_statutory_body_errors(answer, status):
    with ScriptedAres([answer]) as fake:
        with AresClient(fake.url) as client:
            assert client.statutory_body("25063677").status == status


# -- observe -----------------------------------------------------------------------------------

class Observations(list):
    def __call__(self, endpoint, outcome, seconds):
        assert isinstance(seconds, float) and seconds >= 0
        self.append((endpoint, outcome))


def test_observe_is_called_once_per_request(fake_ares):
    seen = Observations()
    with AresClient(fake_ares.url, observe=seen) as client:
        client.lookup("25063677")
        client.lookup("25596641")
        client.lookup("25063678")  # never sent, never observed
        client.lookup_many(["25063677", "68407700"])
        client.statutory_body("25063677")
        client.statutory_body("01603094")
        fake_ares.set_mode("error", status=503)
        client.lookup("25063677")  # retried inside: still one observation
    assert seen == [("subject", "200"), ("subject", "404"), ("search", "200"), ("vr", "200"),
                    ("vr", "404"), ("subject", "503")]


def test_observe_timeout_and_connection_error(fake_ares):
    seen = Observations()
    fake_ares.set_mode("hang")
    with AresClient(fake_ares.url, read_timeout=0.2, retries=0, observe=seen) as client:
        client.lookup("25063677")
    with AresClient(fake_ares.url, read_timeout=0.2, retries=1, backoff_factor=0.01, observe=seen) as client:
        client.lookup("25063677")  # after a retry, requests calls it a ConnectionError
    with AresClient(closed_port_url(), retries=1, backoff_factor=0.01, observe=seen) as client:
        client.lookup("25063677")
    assert seen == [("subject", "timeout"), ("subject", "timeout"), ("subject", "connection_error")]


def test_failing_observe_does_not_break_a_lookup(client, fake_ares, caplog):
    def broken(*args):
        raise RuntimeError("metrics down")

    with AresClient(fake_ares.url, observe=broken) as client:
        assert client.lookup("25063677").status == "found"
        assert client.lookup_many(["25063677", "68407700"])["68407700"].status == "found"
    assert "metrics down" in caplog.text
