"""The Czech National Bank's daily exchange rates: parse its text file, fetch it, keep it in
`exchange_rates`, convert totals into a base currency.

The ČNB publishes CZK rates each working day after 14:30 Prague time. Asked for a day, it
answers the newest table valid on that day: a weekend, a holiday or a morning gets an
earlier working day's table. So every conversion states the date of the rates it used.
"""
import logging
import os
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, Inexact, localcontext
from fractions import Fraction
from typing import Callable
from zoneinfo import ZoneInfo

import requests
from requests.adapters import HTTPAdapter
from sqlalchemy import func, select, update
from urllib3.util.retry import Retry

from crm_common.config import env_float
from crm_common.events import to_utc, utcnow
from crm_common.uow import insert_ignoring_duplicates

from .money import digits, from_minor
from .orm import exchange_rates

log = logging.getLogger(__name__)

DEFAULT_URL = ("https://www.cnb.cz/cs/financni-trhy/devizovy-trh/kurzy-devizoveho-trhu/"
               "kurzy-devizoveho-trhu/denni_kurz.txt")
CZK = "CZK"
PRAGUE = ZoneInfo("Europe/Prague")
PUBLISHED_AFTER = time(14, 30)  # Prague time, working days
# a stored table older than the day should have (a holiday, the ČNB late) is asked about
# again at most this often: the ČNB limits clients that ask too much
RECHECK = timedelta(minutes=15)

Rates = dict[str, tuple[int, Decimal]]  # code -> (amount, CZK for `amount` units)
Table = tuple[date, Rates]  # the date the rates are valid for, and the rates


# -- the file --------------------------------------------------------------------------

HEADER = "země|měna|množství|kód|kurz"
DATE_LINE = re.compile(r"(\d{2})\.(\d{2})\.(\d{4}) #\d+")
CODE = re.compile(r"[A-Z]{3}")
AMOUNT = re.compile(r"[1-9][0-9]{0,6}")
RATE = re.compile(r"[0-9]{1,9},[0-9]{1,9}")


class MalformedRates(ValueError):
    """Not a ČNB daily rates file (a maintenance page, a cut-off download, a new format)."""


def parse(text: str) -> Table:
    """The whole file or MalformedRates: never part of a table."""
    lines = text.splitlines()
    while lines and not lines[-1]:
        lines.pop()  # the final newline
    if len(lines) < 3:
        raise MalformedRates("expected a date line, the header and at least one rate")
    rate_date = _rate_date(lines[0])
    if lines[1] != HEADER:
        raise MalformedRates(f"line 2: expected the header {HEADER!r}, got {lines[1]!r}")
    rates: Rates = {}
    for number, line in enumerate(lines[2:], start=3):
        code, amount, rate = _rate_line(line, number)
        if code in rates:
            raise MalformedRates(f"line {number}: {code} a second time")
        rates[code] = (amount, rate)
    return rate_date, rates


def _rate_date(line: str) -> date:
    match = DATE_LINE.fullmatch(line)
    if not match:
        raise MalformedRates(f"line 1: expected 'DD.MM.YYYY #N', got {line[:40]!r}")
    day, month, year = map(int, match.groups())
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise MalformedRates(f"line 1: {exc}") from exc


def _rate_line(line: str, number: int) -> tuple[str, int, Decimal]:
    fields = line.split("|")
    if len(fields) != 5:
        raise MalformedRates(f"line {number}: expected 5 fields, got {len(fields)}: {line!r}")
    _country, _name, amount, code, rate = fields
    if not CODE.fullmatch(code) or code == CZK:
        raise MalformedRates(f"line {number}: not a currency code: {code!r}")
    if not AMOUNT.fullmatch(amount):
        raise MalformedRates(f"line {number}: not a whole amount: {amount!r}")
    if not RATE.fullmatch(rate) or not Decimal(rate.replace(",", ".")):
        raise MalformedRates(f"line {number}: not a rate like 24,125: {rate!r}")
    return code, int(amount), Decimal(rate.replace(",", "."))


# -- the client ------------------------------------------------------------------------

class RatesUnavailable(RuntimeError):
    """The ČNB could not be reached or gave no usable answer."""


class CnbRates:
    """Fetches the daily file for a day: `CnbRates(url).fetch(day)` -> Table."""

    def __init__(self, url: str, timeout: float = 5, retries: int = 2):
        self.url = url
        self.timeout = timeout
        self.session = requests.Session()
        retry = Retry(
            total=retries, connect=retries, status=retries, other=0,
            read=False,  # a hung server is not asked again: that only multiplies the wait
            allowed_methods=frozenset({"GET"}), status_forcelist=(500, 502, 503, 504),
            backoff_factor=0.3, raise_on_status=False, respect_retry_after_header=False)
        adapter = HTTPAdapter(max_retries=retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def fetch(self, day: date) -> Table:
        try:
            response = self.session.get(self.url, params={"date": day.strftime("%d.%m.%Y")},
                                        timeout=self.timeout)
        except requests.RequestException as exc:  # refused, timed out, retries used up
            raise RatesUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise RatesUnavailable(f"HTTP {response.status_code}")
        try:
            table = parse(response.content.decode("utf-8"))
        except (UnicodeDecodeError, MalformedRates) as exc:
            raise RatesUnavailable(f"not a rates file: {exc}") from exc
        if table[0] > day:  # never valid on the day asked: a wrong clock somewhere
            raise RatesUnavailable(f"asked for {day}, got the rates of {table[0]}")
        return table

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> "CnbRates":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def configured_client() -> CnbRates:
    """The client the service uses: CNB_RATES_URL (e.g. the fake), CNB_RATES_TIMEOUT."""
    return CnbRates(os.environ.get("CNB_RATES_URL") or DEFAULT_URL,
                    timeout=env_float("CNB_RATES_TIMEOUT", 5))


# -- the cache -------------------------------------------------------------------------

def expected_rate_date(day: date, now: datetime) -> date:
    """The date of the rates the ČNB answers for `day` when no holiday intervenes: its last
    working day on or before `day` whose rates were out at `now`."""
    local = now.astimezone(PRAGUE)
    if day == local.date() and local.time() < PUBLISHED_AFTER:
        day -= timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


@dataclass(frozen=True)
class _Stored:
    table: Table
    fetched_at: datetime  # when the ČNB last answered this table


class ExchangeRates:
    """The ČNB's rates, kept in `exchange_rates` (one row per date and currency).

    The table is keyed on the date the ČNB answered, not the day asked; the stored table is
    the day's answer when it is as new as `expected_rate_date`, or, when the ČNB answered an
    older one (a holiday, a late publication), for RECHECK after it did. It commits in
    `session` and leaves no transaction open: give it a session with nothing else pending.
    """

    def __init__(self, session, fetch: Callable[[date], Table],
                 now: Callable[[], datetime] = utcnow, recheck: timedelta = RECHECK):
        self.session = session
        self.fetch = fetch
        self.now = now
        self.recheck = recheck

    def table_for(self, day: date) -> Table | None:
        """The rates valid on `day` (their own date may be earlier), fetched when not
        stored yet; when the ČNB fails, the newest stored ones up to `day`, or None."""
        now = self.now()
        day = min(day, now.astimezone(PRAGUE).date())  # no rates are known for later days
        stored = self._stored(day)
        # none of its transactions stays open, above all not while the ČNB answers: on
        # SQLite a transaction holds the write lock
        self.session.commit()
        if stored and (stored.table[0] >= expected_rate_date(day, now)
                       or now - stored.fetched_at < self.recheck):
            return stored.table
        try:
            table = self.fetch(day)
        except RatesUnavailable as exc:
            log.warning("ČNB rates for %s unavailable (%s); using %s", day, exc,
                        f"the stored ones of {stored.table[0]}" if stored else "none")
            return stored.table if stored else None
        self._store(table, now)
        return table

    def _stored(self, day: date) -> _Stored | None:
        rate_date = self.session.scalar(select(func.max(exchange_rates.c.rate_date)).where(
            exchange_rates.c.rate_date <= day))
        if rate_date is None:
            return None
        rows = self.session.execute(select(exchange_rates).where(
            exchange_rates.c.rate_date == rate_date)).all()
        rates = {row.currency: (row.amount, Decimal(row.rate)) for row in rows}
        return _Stored((rate_date, rates), max(to_utc(row.fetched_at) for row in rows))

    def _store(self, table: Table, now: datetime) -> None:
        """Idempotent: replicas fetching at once store the same rows once (sorted, so their
        inserts wait for each other rather than deadlock); an answer already stored is only
        marked as answered again now."""
        rate_date, rates = table
        self.session.execute(insert_ignoring_duplicates(self.session, exchange_rates), [
            {"rate_date": rate_date, "currency": code, "amount": amount, "rate": str(rate),
             "fetched_at": now} for code, (amount, rate) in sorted(rates.items())])
        self.session.execute(update(exchange_rates).where(
            exchange_rates.c.rate_date == rate_date).values(fetched_at=now))
        self.session.commit()


# -- conversion ------------------------------------------------------------------------

def convert(totals: dict[str, int], base: str, table: Table | None) -> dict:
    """`totals` ({currency: minor units}) as one amount of `base`, through CZK.

    Exact until one half-even rounding to `base`'s minor unit at the end; currencies with
    no rate are left out of the value and named in `missing` (all of them when `base` has
    no rate: then the value is None).
    """
    rate_date, rates = table if table else (None, {})
    known: Rates = {**rates, CZK: (1, Decimal(1))}
    wanted = {*totals, base}
    value = None
    if base in known:
        with localcontext() as exact:
            exact.prec, exact.traps[Inexact] = 100, True  # raise rather than round here
            czk = sum((Decimal(minor).scaleb(-digits(code)) * known[code][1] / known[code][0]
                       for code, minor in totals.items() if code in known), Decimal(0))
        amount, rate = known[base]
        # CZK -> base divides by a rate, which need not end (1/23.456): as fractions, exactly
        value = from_minor(round(Fraction(czk) * amount * 10 ** digits(base) / Fraction(rate)),
                           base)
    return {
        "currency": base,
        "value": value,
        "rate_date": rate_date.isoformat() if rate_date else None,
        "rates": [{"currency": code, "amount": known[code][0], "rate": str(known[code][1])}
                  for code in sorted(wanted) if code in known and code != CZK],
        "missing": sorted(code for code in wanted if code not in known),
    }
