"""Identifiers the ledger records: who made it, who tested it, what it is.

- Unified social credit code (统一社会信用代码), GB 32100-2015: 18 characters from
  ``0123456789ABCDEFGHJKLMNPQRTUWXY`` (values 0-30; no I, O, S, V, Z). Positions 1-17 are
  weighted ``1 3 9 27 19 26 16 17 20 29 25 13 8 24 10 30 28``; the check character has the
  value 31 - (sum mod 31), with 31 written as ``0``.
- CMA accreditation number (检验检测机构资质认定证书编号): 12 digits = year (2) + issuing
  authority (2: 00 national, 01-31 provinces) + field (2) + sector (2) + serial (4); a
  certificate is valid for 6 years from issue.
- GS1 GTIN (General Specifications §7.9): mod-10 check digit, weights 3, 1, 3, ... from the
  rightmost data digit; check = (10 - sum mod 10) mod 10.
- GS1 Digital Link URI (GS1 Digital Link Standard, URI syntax)::

      https://{domain}[/{prefix}]/01/{gtin14}[/10/{lot}][/21/{serial}][?11=YYMMDD&17=YYMMDD]

  Lot (AI 10) and serial (AI 21) are 1-20 characters of GS1 AI encodable character set 82
  (General Specifications §7.11, Figure 7.11-1), percent-encoded in the URI where needed.

Every parser raises :class:`MalformedInput` with a one-line message naming the field and
saying what was expected and what was found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from insutrace.trace.errors import MalformedInput

__all__ = [
    "AI_MAX_LEN",
    "CSET82",
    "KEY_ID_MAX_LEN",
    "USCC_ALPHABET",
    "CmaNumber",
    "DigitalLink",
    "build_digital_link",
    "check_ai_value",
    "check_key_id",
    "gtin_check_digit",
    "is_valid_uscc",
    "parse_cma",
    "parse_digital_link",
    "uscc_check_char",
    "validate_gtin",
    "validate_gtin14",
    "validate_uscc",
]

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

CSET82 = frozenset(
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
)
AI_MAX_LEN = 20  # AI (10) lot and AI (21) serial: X..20 (GS1 General Specifications §3.2)
KEY_ID_MAX_LEN = 16
_KEY_ID = re.compile(rf"[A-Za-z0-9._-]{{1,{KEY_ID_MAX_LEN}}}")
_GTIN_LENGTHS = (8, 12, 13, 14)
_CMA_VALIDITY_YEARS = 6
_CMA_MAX_AUTHORITY = 31

_DOMAIN = re.compile(
    r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"
    r"(?::[0-9]{1,5})?"
)
_PREFIX_SEGMENT = re.compile(r"[A-Za-z0-9._~-]+")
_PCHAR_SEGMENT = re.compile(r"(?:[A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2})+")
_YYMMDD = re.compile(r"[0-9]{6}")
_DATE_AIS = {"11": "production_date", "17": "expiry_date"}


def _fail(field: str, expected: str, got: object) -> MalformedInput:
    return MalformedInput(f"{field}: expected {expected}, got {got!r}")


# --- Unified social credit code (GB 32100-2015) ----------------------------------------------


def uscc_check_char(first17: str) -> str:
    """Return the GB 32100-2015 check character for the first 17 characters of a code."""
    if len(first17) != 17 or any(c not in USCC_ALPHABET for c in first17):
        raise _fail("uscc", f"17 characters from {USCC_ALPHABET}", first17)
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def validate_uscc(code: str) -> str:
    """Check a unified social credit code (GB 32100-2015) and return it upper-cased.

    Raises MalformedInput when a character is outside the code's alphabet or the check
    character (position 18) does not match.
    """
    canonical = code.upper()
    if len(canonical) != 18 or any(c not in USCC_ALPHABET for c in canonical):
        raise _fail("uscc", f"18 characters from {USCC_ALPHABET}", code)
    expected = uscc_check_char(canonical[:17])
    if canonical[17] != expected:
        raise _fail("uscc check character", repr(expected), canonical[17])
    return canonical


def is_valid_uscc(code: str) -> bool:
    """True when ``code`` is a well-formed unified social credit code (GB 32100-2015)."""
    try:
        validate_uscc(code)
    except MalformedInput:
        return False
    return True


# --- CMA accreditation number ----------------------------------------------------------------


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a non-leap target year
        return day.replace(year=day.year + years, day=28)


@dataclass(frozen=True)
class CmaNumber:
    """A parsed CMA accreditation (资质认定) certificate number.

    ``issued_on`` is the certificate's issue date when known; the number itself only
    carries the year.
    """

    number: str
    issue_year: int
    authority_code: str
    field_code: str
    sector_code: str
    serial: str
    issued_on: date | None = None

    @property
    def national(self) -> bool:
        """True when issued by the national authority (code 00) rather than a province."""
        return self.authority_code == "00"

    def expires_on(self) -> date:
        """Last day of the 6-year validity.

        With an issue date: the day before its sixth anniversary. Without one, the window is
        taken as the six whole calendar years ``issue_year`` .. ``issue_year + 5``: strict at
        the end, so a gate never accepts a certificate that may have lapsed; pass
        ``issued_on`` to :func:`parse_cma` for the exact date.
        """
        if self.issued_on is not None:
            return _add_years(self.issued_on, _CMA_VALIDITY_YEARS) - timedelta(days=1)
        return date(self.issue_year + _CMA_VALIDITY_YEARS - 1, 12, 31)

    def valid_on(self, day: date) -> bool:
        """True when the certificate is within its 6-year validity on ``day``."""
        start = self.issued_on or date(self.issue_year, 1, 1)
        return start <= day <= self.expires_on()


def parse_cma(number: str, issued_on: date | None = None) -> CmaNumber:
    """Parse a 12-digit CMA accreditation number: year, authority 00-31, field, sector, serial.

    The two-digit year is read as 20YY (CMA numbers in this form were first issued after
    2000). ``issued_on``, when given, must fall in that year.
    """
    if len(number) != 12 or not number.isascii() or not number.isdigit():
        raise _fail("cma number", "12 digits", number)
    authority = number[2:4]
    if int(authority) > _CMA_MAX_AUTHORITY:
        raise _fail("cma issuing authority", "00 (national) to 31 (province)", authority)
    year = 2000 + int(number[:2])
    if issued_on is not None and issued_on.year != year:
        raise _fail("cma issued_on", f"a date in {year}", issued_on.isoformat())
    return CmaNumber(number, year, authority, number[4:6], number[6:8], number[8:], issued_on)


# --- GS1 GTIN --------------------------------------------------------------------------------


def gtin_check_digit(data: str) -> str:
    """Return the GS1 mod-10 check digit (General Specifications §7.9.1) for the data digits.

    ``data`` is a GTIN without its check digit: 7, 11, 12 or 13 digits.
    """
    if len(data) + 1 not in _GTIN_LENGTHS or not data.isascii() or not data.isdigit():
        raise _fail("gtin data", "7, 11, 12 or 13 digits", data)
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(data)))
    return str((10 - total % 10) % 10)


def validate_gtin(gtin: str) -> str:
    """Check a GTIN and return it as GTIN-14.

    GTIN-8, GTIN-12 and GTIN-13 are accepted and left-padded with zeros to 14 digits, as GS1
    does for 14-digit GTIN fields and in Digital Link; padding leaves the
    check digit unchanged because the weights run from the right.
    """
    if len(gtin) not in _GTIN_LENGTHS or not gtin.isascii() or not gtin.isdigit():
        raise _fail("gtin", "8, 12, 13 or 14 digits", gtin)
    expected = gtin_check_digit(gtin[:-1])
    if gtin[-1] != expected:
        raise _fail("gtin check digit", expected, gtin[-1])
    return gtin.zfill(14)


def validate_gtin14(gtin: str, field: str = "gtin") -> str:
    """A GTIN-14 exactly as written (a Digital Link path or a label carries the 14-digit
    form, GS1 Digital Link §4.3), with its check digit verified."""
    if len(gtin) != 14 or not gtin.isascii() or not gtin.isdigit():
        raise MalformedInput(f"{field} must be 14 digits (GTIN-14), got {gtin!r:.40}")
    return validate_gtin(gtin)


# --- GS1 Digital Link ------------------------------------------------------------------------


def _ai_value_problem(value: str) -> str | None:
    if not value:
        return "is empty"
    if len(value) > AI_MAX_LEN:
        return f"is {len(value)} characters, at most {AI_MAX_LEN}"
    bad = sorted(set(value) - CSET82)
    return f"{value!r} has characters outside CSET 82: {bad}" if bad else None


def check_ai_value(field: str, value: object) -> str:
    """A lot (AI 10) or serial (AI 21): 1-20 characters of GS1 CSET 82 (GS1 General
    Specifications §3.2 "X..20", figure 7.11-1); returned, else MalformedInput naming why."""
    problem = _ai_value_problem(value) if isinstance(value, str) else "is not text"
    if problem is None and isinstance(value, str):
        return value
    name = field.rsplit(": ", 1)[-1]  # the element itself, without its context
    raise MalformedInput(
        f"{field}: expected 1-{AI_MAX_LEN} characters, none outside GS1 CSET 82, "
        f"got {value!r:.60} ({name} {problem})"
    )


def check_key_id(field: str, value: object) -> str:
    """The id of the key that signs a label (the ``k`` of its QR payload): 1-16 of
    A-Z a-z 0-9 . _ -, so it needs no percent-encoding in the query (RFC 3986 §2.3)."""
    if not isinstance(value, str) or _KEY_ID.fullmatch(value) is None:
        raise MalformedInput(
            f"{field}: expected 1-{KEY_ID_MAX_LEN} of A-Z a-z 0-9 . _ -, got {value!r:.40}"
        )
    return value


def _check_ai_date(field: str, day: date) -> None:
    if not 2000 <= day.year <= 2099:
        raise _fail(field, "a date in 2000-2099 (YYMMDD)", day.isoformat())


def _check_domain(domain: str) -> None:
    if _DOMAIN.fullmatch(domain) is None:
        raise _fail("domain", "a lower-case host name, optionally with :port", domain)


def _check_prefix(prefix: str) -> None:
    segments = prefix.split("/")
    if any(_PREFIX_SEGMENT.fullmatch(s) is None for s in segments):
        raise _fail("prefix", "path segments of A-Z a-z 0-9 . _ ~ - joined by '/'", prefix)


@dataclass(frozen=True)
class DigitalLink:
    """A GS1 Digital Link URI for one trade item, lot or serialised unit.

    ``gtin`` is always the 14-digit form; ``production_date`` is AI 11 and ``expiry_date``
    AI 17. Construction validates every field.
    """

    domain: str
    gtin: str
    lot: str | None = None
    serial: str | None = None
    production_date: date | None = None
    expiry_date: date | None = None
    prefix: str | None = None

    def __post_init__(self) -> None:
        _check_domain(self.domain)
        if len(self.gtin) != 14 or validate_gtin(self.gtin) != self.gtin:
            raise _fail("gtin", "14 digits", self.gtin)
        self._check_optional_fields()

    def _check_optional_fields(self) -> None:
        if self.prefix is not None:
            _check_prefix(self.prefix)
        if self.lot is not None:
            check_ai_value("lot (AI 10)", self.lot)
        if self.serial is not None:
            check_ai_value("serial (AI 21)", self.serial)
        if self.production_date is not None:
            _check_ai_date("production_date (AI 11)", self.production_date)
        if self.expiry_date is not None:
            _check_ai_date("expiry_date (AI 17)", self.expiry_date)

    def uri(self) -> str:
        """The URI, key qualifiers in the order 01, 10, 21 that Digital Link prescribes."""
        parts = [f"https://{self.domain}"]
        if self.prefix is not None:
            parts.append(self.prefix)
        parts += ["01", self.gtin]
        if self.lot is not None:
            parts += ["10", quote(self.lot, safe="")]
        if self.serial is not None:
            parts += ["21", quote(self.serial, safe="")]
        return "/".join(parts) + self._query()

    def _query(self) -> str:
        pairs = [
            f"{ai}={day.strftime('%y%m%d')}"
            for ai, day in (("11", self.production_date), ("17", self.expiry_date))
            if day is not None
        ]
        return "?" + "&".join(pairs) if pairs else ""


def build_digital_link(
    domain: str,
    gtin: str,
    *,
    lot: str | None = None,
    serial: str | None = None,
    production_date: date | None = None,
    expiry_date: date | None = None,
    prefix: str | None = None,
) -> str:
    """Build a GS1 Digital Link URI (GS1 Digital Link Standard).

    The domain is lower-cased and a GTIN-8/12/13 is padded to GTIN-14. ``prefix`` is an
    optional path (e.g. ``"gs1"`` or ``"p/insul"``) placed before ``/01/``; a manufacturer
    without GTINs uses the same pattern on its own domain.
    """
    link = DigitalLink(
        domain.lower(),
        validate_gtin(gtin),
        lot,
        serial,
        production_date,
        expiry_date,
        prefix,
    )
    return link.uri()


def _decode_segment(field: str, raw: str) -> str:
    if _PCHAR_SEGMENT.fullmatch(raw) is None:
        raise _fail(field, "a percent-encoded path segment", raw)
    try:
        return unquote(raw, errors="strict")
    except UnicodeDecodeError as exc:
        raise _fail(field, "UTF-8 after percent-decoding", raw) from exc


def _split_path(path: str) -> tuple[str | None, str, str | None, str | None]:
    """Split ``[/prefix]/01/gtin[/10/lot][/21/serial]`` into (prefix, gtin, lot, serial).

    Read from the right, since qualifier values sit at fixed places from the end and a
    prefix may itself contain segments such as ``01``.
    """
    segments = path.split("/")[1:]
    found: dict[str, str] = {}
    for ai in ("21", "10", "01"):
        if len(segments) >= 2 and segments[-2] == ai:
            found[ai] = _decode_segment(f"AI {ai}", segments[-1])
            segments = segments[:-2]
    if "01" not in found:
        raise _fail("path", "[/{prefix}]/01/{gtin}[/10/{lot}][/21/{serial}]", path)
    prefix = "/".join(segments) if segments else None
    return prefix, found["01"], found.get("10"), found.get("21")


def _parse_ai_date(ai: str, value: str) -> date:
    if _YYMMDD.fullmatch(value) is None:
        raise _fail(f"AI {ai}", "YYMMDD", value)
    try:
        return date(2000 + int(value[:2]), int(value[2:4]), int(value[4:]))
    except ValueError as exc:
        raise _fail(f"AI {ai}", "a calendar date YYMMDD (day 00 is not supported)", value) from exc


def _parse_query(query: str) -> dict[str, date]:
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True) if query else []
    except ValueError as exc:
        raise _fail("query", "11=YYMMDD&17=YYMMDD", query) from exc
    dates: dict[str, date] = {}
    for key, value in pairs:
        if key not in _DATE_AIS or _DATE_AIS[key] in dates:
            raise _fail("query key", "11 or 17, each at most once", key)
        dates[_DATE_AIS[key]] = _parse_ai_date(key, value)
    return dates


def parse_digital_link(uri: str) -> DigitalLink:
    """Parse a GS1 Digital Link URI into a :class:`DigitalLink` (GS1 Digital Link Standard).

    Only ``https``, the path qualifiers 10 and 21 and the query keys 11 and 17 are accepted.
    The YY of a date is read as 20YY: GS1's sliding century window (General Specifications
    §7.12) differs only for years outside 2000-2076 from the vantage point of 2026.
    """
    parts = urlsplit(uri)
    if parts.scheme != "https":
        raise _fail("scheme", "'https'", parts.scheme)
    if parts.fragment:
        raise _fail("fragment", "none", parts.fragment)
    prefix, gtin, lot, serial = _split_path(parts.path)
    dates = _parse_query(parts.query)
    return DigitalLink(
        parts.netloc.lower(),
        validate_gtin(gtin),
        lot,
        serial,
        dates.get("production_date"),
        dates.get("expiry_date"),
        prefix,
    )
