"""The ČNB's daily rates: the file, the client against a real fake server, the cache in
`exchange_rates` on SQLite and PostgreSQL, and exact conversion.

Expected values come from the recorded files and Decimal arithmetic done here, never from
numbers copied out of the code's answers.
"""
import random
import socket
import threading
from datetime import date, datetime, time, timedelta, timezone
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from pathlib import Path
from time import monotonic

import pytest
from hypothesis import given, settings, strategies as st
from sqlalchemy import func, select

from crm_common.db import make_engine, make_session_factory
from deals_service.fake_cnb import MAINTENANCE_PAGE, PATH, FakeCnb
from deals_service.money import digits, from_minor, to_minor
from deals_service.orm import exchange_rates, metadata
from deals_service.rates import (DEFAULT_URL, PRAGUE, CnbRates, ExchangeRates,
                                 MalformedRates, RatesUnavailable, configured_client,
                                 convert, parse)

DATA = Path(__file__).resolve().parents[1] / "data" / "cnb"
FRIDAY, SATURDAY, SUNDAY, MONDAY, TUESDAY = (date(2026, 11, day) for day in range(20, 25))


def text_of(day: date) -> str:
    return (DATA / f"{day}.txt").read_text(encoding="utf-8")


def recorded(day: date):
    return parse(text_of(day))


def prague(day: date, clock_time: str) -> datetime:
    return datetime.combine(day, time.fromisoformat(clock_time), PRAGUE).astimezone(timezone.utc)


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def cnb():
    with FakeCnb(DATA) as fake:
        yield fake


@pytest.fixture
def client(cnb):
    with CnbRates(cnb.url, timeout=2) as rates_client:
        yield rates_client


@pytest.fixture(scope="module")
def postgres_url(make_postgres_db):
    """One throw-away database on the shared server for this module (dropped at the end of
    the test session): dropping one per test takes seconds each."""
    return make_postgres_db("rates")


@pytest.fixture(params=["sqlite", "postgresql"])
def sessions(request, tmp_path):
    """Opens sessions on a database with fresh, empty deals tables."""
    if request.param == "postgresql":
        engine = make_engine(request.getfixturevalue("postgres_url"))
        metadata.drop_all(engine)
    else:
        engine = make_engine(f"sqlite:///{tmp_path / 'rates.db'}")
    metadata.create_all(engine)
    factory, opened = make_session_factory(engine), []

    def open_session():
        opened.append(factory())
        return opened[-1]

    yield open_session
    for session in opened:
        session.close()
    engine.dispose()


def stored_rows(sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(exchange_rates))


# -- the file --------------------------------------------------------------------------

@pytest.mark.parametrize("day", [FRIDAY, MONDAY])
def test_a_recorded_file_parses_whole(day):
    lines = text_of(day).splitlines()
    fields = [line.split("|") for line in lines[2:]]
    rate_date, rates = parse(text_of(day))
    assert rate_date == day and lines[0].startswith(day.strftime("%d.%m.%Y #"))
    assert rates == {code: (int(amount), Decimal(rate.replace(",", ".")))
                     for _, _, amount, code, rate in fields}
    assert len(rates) == len(lines) - 2 >= 30
    assert {rates[code][0] for code in ("JPY", "HUF")} == {100} and rates["IDR"][0] == 1000


def test_windows_line_ends_parse_the_same():
    assert parse(text_of(FRIDAY).replace("\n", "\r\n")) == recorded(FRIDAY)


def _with_line(index: int, change):
    def edit(text: str) -> str:
        lines = text.splitlines()
        lines[index] = change(lines[index])
        return "\n".join(lines) + "\n"
    return edit


def _eur_line(change):
    def edit(text: str) -> str:
        return "\n".join(change(line) if "|EUR|" in line else line
                         for line in text.splitlines()) + "\n"
    return edit


MALFORMED = {
    "empty": lambda text: "",
    "a maintenance page": lambda text: MAINTENANCE_PAGE,
    "only the date and header": lambda text: "\n".join(text.splitlines()[:2]),
    "no sequence number": _with_line(0, lambda line: line.split(" ")[0]),
    "an impossible date": _with_line(0, lambda line: "31.11.2026 #223"),
    "an English header": _with_line(1, lambda line: "Country|Currency|Amount|Code|Rate"),
    "no header": lambda text: "\n".join(text.splitlines()[:1] + text.splitlines()[2:]),
    "a decimal point": _eur_line(lambda line: line.replace(",", ".")),
    "a rate without decimals": _eur_line(lambda line: line.split(",")[0]),
    "a zero rate": _eur_line(lambda line: line.rsplit("|", 1)[0] + "|0,000"),
    "a zero amount": _eur_line(lambda line: line.replace("|1|", "|0|")),
    "a lower-case code": _eur_line(lambda line: line.replace("EUR", "eur")),
    "CZK itself": _eur_line(lambda line: line.replace("EUR", "CZK")),
    "four fields": _eur_line(lambda line: line.split("|", 1)[1]),
    "six fields": _eur_line(lambda line: line + "|"),
    "a currency twice": lambda text: text + text.splitlines()[-1] + "\n",
    "a blank line among the rates": _with_line(5, lambda line: "\n" + line),
    "cut off in the last line": lambda text: text[:text.rindex("|")],
}


@pytest.mark.parametrize("name", MALFORMED)
def test_a_malformed_file_is_refused_whole(name):
    with pytest.raises(MalformedRates):
        parse(MALFORMED[name](text_of(FRIDAY)))


# -- conversion ------------------------------------------------------------------------

CENT = Decimal("0.01")


def exactly(amount_in_czk):
    with localcontext() as context:
        context.prec = 200
        return amount_in_czk()


def test_a_sum_of_many_amounts_converts_exactly():
    table = recorded(FRIDAY)
    amount, rate = table[1]["EUR"]
    generator = random.Random(2026)
    amounts = [f"{generator.randrange(10 ** 9)}.{generator.randrange(100):02d}"
               for _ in range(1000)]
    expected = exactly(lambda: sum(map(Decimal, amounts)) * rate / amount)
    result = convert({"EUR": sum(to_minor(a, "EUR") for a in amounts)}, "CZK", table)
    assert result == {"currency": "CZK", "value": str(expected.quantize(CENT, ROUND_HALF_EVEN)),
                      "rate_date": FRIDAY.isoformat(),
                      "rates": [{"currency": "EUR", "amount": amount, "rate": str(rate)}],
                      "missing": []}


def test_two_currencies_are_rounded_once_at_the_end():
    table = recorded(FRIDAY)
    totals = {"EUR": 2, "USD": 3}  # cents whose CZK values each round down, together up
    each = [Decimal(minor) / 100 * table[1][code][1] / table[1][code][0]
            for code, minor in totals.items()]
    rounded_once = sum(each).quantize(CENT, ROUND_HALF_EVEN)
    assert rounded_once != sum(x.quantize(CENT, ROUND_HALF_EVEN) for x in each)
    result = convert(totals, "CZK", table)
    assert result["value"] == str(rounded_once)
    assert [r["currency"] for r in result["rates"]] == ["EUR", "USD"]


def test_yen_are_quoted_per_hundred():
    table = recorded(FRIDAY)
    amount, rate = table[1]["JPY"]
    assert amount == 100
    expected = (Decimal(123457) * rate / amount).quantize(CENT, ROUND_HALF_EVEN)
    assert convert({"JPY": 123457}, "CZK", table)["value"] == str(expected)


def test_a_euro_base_goes_through_crowns_at_full_precision():
    table = recorded(MONDAY)
    totals = {"USD": 1234567, "JPY": 98765, "CZK": 4321, "HUF": 5000000, "IDR": 7}
    rates = {**table[1], "CZK": (1, Decimal(1))}
    in_czk = exactly(lambda: sum(Decimal(minor).scaleb(-digits(code)) * rates[code][1]
                                 / rates[code][0] for code, minor in totals.items()))
    eur_amount, eur_rate = rates["EUR"]
    expected = exactly(lambda: in_czk * eur_amount / eur_rate).quantize(CENT, ROUND_HALF_EVEN)
    result = convert(totals, "EUR", table)
    assert result["value"] == str(expected) and result["rate_date"] == MONDAY.isoformat()
    assert [r["currency"] for r in result["rates"]] == ["EUR", "HUF", "IDR", "JPY", "USD"]


def test_currencies_without_a_rate_are_named_and_left_out():
    table = recorded(FRIDAY)
    amount, rate = table[1]["EUR"]
    result = convert({"EUR": 10000, "XAU": 5}, "CZK", table)
    assert result["value"] == str((100 * rate / amount).quantize(CENT, ROUND_HALF_EVEN))
    assert result["missing"] == ["XAU"]
    nothing = convert({"EUR": 10000}, "XAU", table)
    assert nothing["value"] is None and nothing["missing"] == ["XAU"]


def test_without_rates_only_crowns_count():
    result = convert({"CZK": 12345, "EUR": 100}, "CZK", None)
    assert result == {"currency": "CZK", "value": from_minor(12345, "CZK"), "rate_date": None,
                      "rates": [], "missing": ["EUR"]}


CODES = sorted(recorded(FRIDAY)[1]) + ["CZK", "XAU"]


@settings(max_examples=200, deadline=None)
@given(totals=st.dictionaries(st.sampled_from(CODES), st.integers(0, 10 ** 15), max_size=6),
       base=st.sampled_from(["CZK", "EUR", "USD", "JPY", "HUF", "IDR", "KRW"]))
def test_any_totals_convert_as_exact_arithmetic_says(totals, base):
    table = recorded(FRIDAY)
    rates = {**table[1], "CZK": (1, Decimal(1))}
    known = {code: minor for code, minor in totals.items() if code in rates}
    in_base = exactly(lambda: sum(Decimal(minor).scaleb(-digits(code)) * rates[code][1]
                                  / rates[code][0] for code, minor in known.items())
                      * rates[base][0] / rates[base][1])
    result = convert(totals, base, table)
    assert result["value"] == str(in_base.quantize(Decimal(1).scaleb(-digits(base)),
                                                   ROUND_HALF_EVEN))
    assert result["missing"] == (["XAU"] if "XAU" in totals else [])
    # there and back: a currency converted into itself is itself, to the minor unit
    assert convert({base: totals.get(base, 0)}, base, table)["value"] == \
        from_minor(totals.get(base, 0), base)


# -- the client, against the fake ČNB --------------------------------------------------

def test_the_recordings_are_named_after_their_dates():
    for path in DATA.glob("*.txt"):
        assert parse(path.read_text(encoding="utf-8"))[0] == date.fromisoformat(path.stem)


def test_a_sunday_is_answered_with_fridays_rates(client, cnb):
    assert client.fetch(SUNDAY) == recorded(FRIDAY)
    assert client.fetch(MONDAY) == recorded(MONDAY)
    assert cnb.requests == [f"{PATH}?date=22.11.2026", f"{PATH}?date=23.11.2026"]


def test_a_server_error_is_asked_again(client, cnb):
    cnb.set_mode("error500", times=1)
    assert client.fetch(MONDAY) == recorded(MONDAY)
    assert len(cnb.requests) == 2


def test_a_lasting_server_error_is_unavailable_after_the_retries(cnb):
    cnb.set_mode("error500")
    with CnbRates(cnb.url, retries=2) as client, pytest.raises(RatesUnavailable, match="500"):
        client.fetch(MONDAY)
    assert len(cnb.requests) == 3


def test_a_hanging_server_times_out_without_retrying(cnb):
    cnb.set_mode("hang")
    started = monotonic()
    with CnbRates(cnb.url, timeout=0.5) as client, \
            pytest.raises(RatesUnavailable, match="Timeout"):
        client.fetch(MONDAY)
    assert monotonic() - started < 3 and len(cnb.requests) == 1


@pytest.mark.parametrize("mode", ["garbage", "truncated"])
def test_garbage_is_unavailable(client, cnb, mode):
    cnb.set_mode(mode)
    with pytest.raises(RatesUnavailable) as raised:
        client.fetch(MONDAY)
    assert isinstance(raised.value.__cause__, MalformedRates)


def test_a_closed_port_is_unavailable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with CnbRates(f"http://127.0.0.1:{port}{PATH}", timeout=1) as client, \
            pytest.raises(RatesUnavailable, match="ConnectionError"):
        client.fetch(MONDAY)


def test_rates_of_a_later_day_than_asked_are_refused(tmp_path):
    (tmp_path / f"{FRIDAY}.txt").write_text(text_of(MONDAY), encoding="utf-8")
    with FakeCnb(tmp_path) as fake, CnbRates(fake.url) as client, \
            pytest.raises(RatesUnavailable, match=f"got the rates of {MONDAY}"):
        client.fetch(SATURDAY)


def test_the_url_comes_from_the_environment(monkeypatch, cnb):
    monkeypatch.delenv("CNB_RATES_URL", raising=False)
    with configured_client() as client:
        assert client.url == DEFAULT_URL and client.timeout == 5
    monkeypatch.setenv("CNB_RATES_URL", cnb.url)
    monkeypatch.setenv("CNB_RATES_TIMEOUT", "1.5")
    with configured_client() as client:
        assert client.timeout == 1.5 and client.fetch(SUNDAY) == recorded(FRIDAY)


# -- the cache -------------------------------------------------------------------------

def test_a_day_is_fetched_once_and_then_read_from_the_table(sessions, cnb, client):
    clock = Clock(prague(SUNDAY, "10:00"))
    first = ExchangeRates(sessions(), client.fetch, clock).table_for(SUNDAY)
    assert first == recorded(FRIDAY) and len(cnb.requests) == 1
    assert stored_rows(sessions) == len(first[1])
    # another request that day (a new session): Friday's table answers Sunday and Saturday
    again = ExchangeRates(sessions(), client.fetch, clock)
    assert again.table_for(SUNDAY) == first and again.table_for(SATURDAY) == first
    assert len(cnb.requests) == 1


def test_monday_morning_keeps_fridays_rates_and_the_afternoon_fetches_mondays(
        sessions, cnb, client):
    clock = Clock(prague(SUNDAY, "10:00"))
    rates = ExchangeRates(sessions(), client.fetch, clock)
    rates.table_for(SUNDAY)
    clock.now = prague(MONDAY, "09:00")  # Monday's rates come out after 14:30
    assert rates.table_for(MONDAY) == recorded(FRIDAY) and len(cnb.requests) == 1
    clock.now = prague(MONDAY, "14:45")
    assert rates.table_for(MONDAY) == recorded(MONDAY) and len(cnb.requests) == 2
    assert rates.table_for(MONDAY) == recorded(MONDAY) and len(cnb.requests) == 2
    assert rates.table_for(SUNDAY) == recorded(FRIDAY) and len(cnb.requests) == 2
    assert stored_rows(sessions) == len(recorded(FRIDAY)[1]) + len(recorded(MONDAY)[1])


def test_an_older_table_than_expected_is_asked_about_again_after_a_while(
        sessions, cnb, client):
    # Tuesday afternoon the fake still answers Monday's rates: a holiday, or the ČNB late
    clock = Clock(prague(TUESDAY, "15:00"))
    rates = ExchangeRates(sessions(), client.fetch, clock, recheck=timedelta(minutes=15))
    assert rates.table_for(TUESDAY) == recorded(MONDAY) and len(cnb.requests) == 1
    clock.now += timedelta(minutes=10)
    assert rates.table_for(TUESDAY) == recorded(MONDAY) and len(cnb.requests) == 1
    clock.now += timedelta(minutes=10)
    assert rates.table_for(TUESDAY) == recorded(MONDAY) and len(cnb.requests) == 2
    clock.now += timedelta(minutes=10)
    assert rates.table_for(TUESDAY) == recorded(MONDAY) and len(cnb.requests) == 2


def test_a_hanging_cnb_falls_back_to_the_stored_rates_with_their_date(sessions, cnb):
    with CnbRates(cnb.url, timeout=0.5) as client:
        clock = Clock(prague(SUNDAY, "10:00"))
        rates = ExchangeRates(sessions(), client.fetch, clock)
        rates.table_for(SUNDAY)
        cnb.set_mode("hang")
        clock.now = prague(MONDAY, "15:00")
        started = monotonic()
        assert rates.table_for(MONDAY) == recorded(FRIDAY)
        assert monotonic() - started < 3 and len(cnb.requests) == 2


@pytest.mark.parametrize("mode", ["error500", "garbage"])
def test_no_rates_and_nothing_stored_when_the_cnb_fails_from_the_start(
        sessions, cnb, client, mode):
    cnb.set_mode(mode)
    rates = ExchangeRates(sessions(), client.fetch, Clock(prague(MONDAY, "15:00")))
    assert rates.table_for(MONDAY) is None
    assert stored_rows(sessions) == 0


def test_replicas_storing_the_same_rates_store_them_once(sessions, client):
    clock = Clock(prague(MONDAY, "15:00"))
    other_replica = ExchangeRates(sessions(), client.fetch, clock)

    def fetch_while_the_other_replica_stores(day):
        other_replica.table_for(day)
        return client.fetch(day)

    rates = ExchangeRates(sessions(), fetch_while_the_other_replica_stores, clock)
    assert rates.table_for(MONDAY) == recorded(MONDAY)
    assert stored_rows(sessions) == len(recorded(MONDAY)[1])


def test_replicas_fetching_at_the_same_moment_store_the_rates_once(sessions, cnb):
    clock, both_fetched = Clock(prague(MONDAY, "15:00")), threading.Barrier(2, timeout=10)
    answers, errors = [], []

    def replica(session):
        with CnbRates(cnb.url) as client:
            def fetch(day):
                table = client.fetch(day)
                both_fetched.wait()  # then both store at once
                return table
            try:
                answers.append(ExchangeRates(session, fetch, clock).table_for(MONDAY))
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

    threads = [threading.Thread(target=replica, args=(sessions(),)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == [] and answers == [recorded(MONDAY)] * 2 and len(cnb.requests) == 2
    assert stored_rows(sessions) == len(recorded(MONDAY)[1])
