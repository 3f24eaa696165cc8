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


def test_hang_is_unavailable_after_read_timeout(fake_ares):
    fake_ares.set_mode("hang")
    with AresClient(fake_ares.url, read_timeout=0.5) as client:
        result = client.lookup("25063677")
    assert result.status == "unavailable"
    assert "ReadTimeout" in result.detail
    assert len(fake_ares.requests) == 1  # read timeouts are not retried


def test_closed_port_is_unavailable_and_retries_are_throttled():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    counter = Counter()
    with AresClient(f"http://127.0.0.1:{port}/ekonomicke-subjekty-v-be/rest", retries=2, throttle=counter) as client:
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
