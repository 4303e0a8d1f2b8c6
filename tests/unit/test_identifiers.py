"""Unified social credit code, CMA number, GTIN and GS1 Digital Link."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from insutrace.trace.errors import MalformedInput
from insutrace.trace.identifiers import (
    CSET82,
    USCC_ALPHABET,
    CmaNumber,
    DigitalLink,
    build_digital_link,
    gtin_check_digit,
    is_valid_uscc,
    parse_cma,
    parse_digital_link,
    uscc_check_char,
    validate_gtin,
    validate_uscc,
)

# --- unified social credit code -----------------------------------------------------------


@pytest.mark.parametrize("code", ["91350100M000100Y43", "9144030071526726XG"])
def test_uscc_reference_examples_are_valid(code: str) -> None:
    assert validate_uscc(code) == code
    assert is_valid_uscc(code)


def test_uscc_is_returned_upper_case() -> None:
    assert validate_uscc("9144030071526726xg") == "9144030071526726XG"


def test_uscc_reference_invalid_example() -> None:
    assert not is_valid_uscc("91350100M000100Y4Z")
    with pytest.raises(MalformedInput, match=r"uscc: expected 18 characters"):
        validate_uscc("91350100M000100Y4Z")


def test_uscc_wrong_check_character() -> None:
    with pytest.raises(MalformedInput, match=r"uscc check character: expected '3', got '4'"):
        validate_uscc("91350100M000100Y44")


def test_uscc_wrong_length() -> None:
    with pytest.raises(MalformedInput, match=r"uscc: expected 18 characters"):
        validate_uscc("91350100M000100Y4")


def test_uscc_check_char_needs_17_characters() -> None:
    with pytest.raises(MalformedInput, match=r"uscc: expected 17 characters"):
        uscc_check_char("9135")


def _naive_uscc_check(first17: str) -> str:
    weights = [3**i % 31 for i in range(17)]  # the reference weights are 3^(i-1) mod 31
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, weights, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


_uscc_body = st.text(alphabet=USCC_ALPHABET, min_size=17, max_size=17)


@given(_uscc_body)
def test_uscc_check_char_round_trip(body: str) -> None:
    code = body + uscc_check_char(body)
    assert uscc_check_char(body) == _naive_uscc_check(body)
    assert validate_uscc(code) == code


@given(_uscc_body, st.integers(0, 17), st.integers(1, 30))
def test_uscc_detects_any_single_substitution(body: str, position: int, shift: int) -> None:
    code = body + uscc_check_char(body)
    replaced = USCC_ALPHABET[(USCC_ALPHABET.index(code[position]) + shift) % 31]
    assert not is_valid_uscc(code[:position] + replaced + code[position + 1 :])


# --- CMA accreditation number -------------------------------------------------------------


def test_cma_fields() -> None:
    cma = parse_cma("210102280017")
    assert cma == CmaNumber("210102280017", 2021, "01", "02", "28", "0017")
    assert not cma.national


def test_cma_national_authority() -> None:
    assert parse_cma("230001060001").national


def test_cma_validity_with_issue_date_is_six_years() -> None:
    cma = parse_cma("210102280017", issued_on=date(2021, 3, 15))
    assert not cma.valid_on(date(2021, 3, 14))
    assert cma.valid_on(date(2021, 3, 15))
    assert cma.valid_on(date(2027, 3, 14))
    assert not cma.valid_on(date(2027, 3, 15))


def test_cma_validity_from_29_february() -> None:
    cma = parse_cma("240102280017", issued_on=date(2024, 2, 29))
    assert cma.expires_on() == date(2030, 2, 27)


def test_cma_validity_without_issue_date_is_six_calendar_years() -> None:
    cma = parse_cma("210102280017")
    assert not cma.valid_on(date(2020, 12, 31))
    assert cma.valid_on(date(2021, 1, 1))
    assert cma.valid_on(date(2026, 12, 31))
    assert not cma.valid_on(date(2027, 1, 1))


def test_cma_rejects_authority_above_31() -> None:
    with pytest.raises(MalformedInput, match=r"cma issuing authority: expected 00 .* got '32'"):
        parse_cma("213202280017")


def test_cma_rejects_non_digits() -> None:
    with pytest.raises(MalformedInput, match=r"cma number: expected 12 digits, got '2101022800A7'"):
        parse_cma("2101022800A7")


def test_cma_rejects_wrong_length() -> None:
    with pytest.raises(MalformedInput, match=r"cma number: expected 12 digits"):
        parse_cma("21010228001")


def test_cma_rejects_issue_date_in_another_year() -> None:
    with pytest.raises(MalformedInput, match=r"cma issued_on: expected a date in 2021"):
        parse_cma("210102280017", issued_on=date(2022, 1, 1))


# --- GTIN ---------------------------------------------------------------------------------


def test_gtin14_reference_example() -> None:
    assert validate_gtin("09506000134352") == "09506000134352"
    assert gtin_check_digit("0950600013435") == "2"


@pytest.mark.parametrize(
    ("gtin", "padded"),
    [
        ("9506000134352", "09506000134352"),
        ("4006381333931", "04006381333931"),
        ("036000291452", "00036000291452"),
        ("96385074", "00000096385074"),
    ],
)
def test_shorter_gtins_are_zero_padded(gtin: str, padded: str) -> None:
    assert validate_gtin(gtin) == padded


def test_gtin_wrong_check_digit() -> None:
    with pytest.raises(MalformedInput, match=r"gtin check digit: expected 2, got '3'"):
        validate_gtin("09506000134353")


def test_gtin_wrong_length() -> None:
    with pytest.raises(MalformedInput, match=r"gtin: expected 8, 12, 13 or 14 digits"):
        validate_gtin("123456789")


def test_gtin_non_ascii_digits() -> None:
    with pytest.raises(MalformedInput, match=r"gtin: expected 8, 12, 13 or 14 digits"):
        validate_gtin("０９５０６０００１３４３５２")


def test_gtin_check_digit_needs_data_length() -> None:
    with pytest.raises(MalformedInput, match=r"gtin data: expected 7, 11, 12 or 13 digits"):
        gtin_check_digit("12345")


def _naive_gtin14_check(data13: str) -> str:
    # GS1 GenSpecs §7.9.1 as written for GTIN-14: positions 1..13 weighted 3, 1, 3, ...
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(data13))
    return str((10 - total % 10) % 10)


_gtin_data = st.text(alphabet="0123456789", min_size=13, max_size=13)


@given(_gtin_data)
def test_gtin_check_digit_round_trip(data: str) -> None:
    assert gtin_check_digit(data) == _naive_gtin14_check(data)
    assert validate_gtin(data + gtin_check_digit(data)) == data + gtin_check_digit(data)


@given(_gtin_data, st.integers(0, 13), st.integers(1, 9))
def test_gtin_detects_any_single_digit_error(data: str, position: int, shift: int) -> None:
    gtin = data + gtin_check_digit(data)
    wrong = str((int(gtin[position]) + shift) % 10)
    with pytest.raises(MalformedInput):
        validate_gtin(gtin[:position] + wrong + gtin[position + 1 :])


# --- GS1 Digital Link ---------------------------------------------------------------------


def test_digital_link_full_form() -> None:
    uri = build_digital_link(
        "id.Example.cn",
        "9506000134352",
        lot="B2025-07/A",
        serial="00017",
        production_date=date(2025, 7, 1),
        expiry_date=date(2030, 6, 30),
        prefix="insul",
    )
    assert uri == (
        "https://id.example.cn/insul/01/09506000134352/10/B2025-07%2FA/21/00017?11=250701&17=300630"
    )
    assert parse_digital_link(uri) == DigitalLink(
        "id.example.cn",
        "09506000134352",
        "B2025-07/A",
        "00017",
        date(2025, 7, 1),
        date(2030, 6, 30),
        "insul",
    )


def test_digital_link_gtin_only() -> None:
    assert build_digital_link("id.gs1.org", "09506000134352") == (
        "https://id.gs1.org/01/09506000134352"
    )


def test_digital_link_parses_short_gtin_and_upper_case_host() -> None:
    link = parse_digital_link("https://ID.GS1.ORG/01/9506000134352/21/A%21")
    assert (link.domain, link.gtin, link.serial, link.lot) == (
        "id.gs1.org",
        "09506000134352",
        "A!",
        None,
    )


def test_digital_link_prefix_may_contain_qualifier_codes() -> None:
    link = parse_digital_link("https://example.com/10/01/01/09506000134352/10/L1")
    assert (link.prefix, link.lot) == ("10/01", "L1")


def test_digital_link_rejects_http() -> None:
    with pytest.raises(MalformedInput, match=r"scheme: expected 'https', got 'http'"):
        parse_digital_link("http://id.gs1.org/01/09506000134352")


def test_digital_link_rejects_missing_gtin() -> None:
    with pytest.raises(MalformedInput, match=r"path: expected \[/\{prefix\}\]/01/\{gtin\}"):
        parse_digital_link("https://id.gs1.org/10/LOT1")


def test_digital_link_rejects_bad_gtin() -> None:
    with pytest.raises(MalformedInput, match=r"gtin check digit: expected 2, got '9'"):
        parse_digital_link("https://id.gs1.org/01/09506000134359")


def test_digital_link_rejects_lot_over_20_characters() -> None:
    with pytest.raises(MalformedInput, match=r"lot \(AI 10\): expected 1-20 characters"):
        build_digital_link("id.gs1.org", "09506000134352", lot="L" * 21)


def test_digital_link_rejects_lot_outside_cset82() -> None:
    with pytest.raises(MalformedInput, match=r"lot \(AI 10\): expected .* CSET 82, got 'A B'"):
        parse_digital_link("https://id.gs1.org/01/09506000134352/10/A%20B")


def test_digital_link_rejects_bad_percent_encoding() -> None:
    with pytest.raises(MalformedInput, match=r"AI 21: expected UTF-8 after percent-decoding"):
        parse_digital_link("https://id.gs1.org/01/09506000134352/21/%FF")


def test_digital_link_rejects_unknown_query_key() -> None:
    with pytest.raises(MalformedInput, match=r"query key: expected 11 or 17, .* got 'linkType'"):
        parse_digital_link("https://id.gs1.org/01/09506000134352?linkType=gs1:pip")


def test_digital_link_rejects_repeated_query_key() -> None:
    with pytest.raises(MalformedInput, match=r"query key: expected 11 or 17, each at most once"):
        parse_digital_link("https://id.gs1.org/01/09506000134352?17=300630&17=300631")


def test_digital_link_rejects_impossible_date() -> None:
    with pytest.raises(MalformedInput, match=r"AI 17: expected a calendar date YYMMDD"):
        parse_digital_link("https://id.gs1.org/01/09506000134352?17=300231")


def test_digital_link_rejects_short_date() -> None:
    with pytest.raises(MalformedInput, match=r"AI 11: expected YYMMDD, got '2507'"):
        parse_digital_link("https://id.gs1.org/01/09506000134352?11=2507")


def test_digital_link_rejects_fragment() -> None:
    with pytest.raises(MalformedInput, match=r"fragment: expected none, got 'x'"):
        parse_digital_link("https://id.gs1.org/01/09506000134352#x")


def test_digital_link_rejects_bad_domain() -> None:
    with pytest.raises(MalformedInput, match=r"domain: expected a lower-case host name"):
        build_digital_link("bad_host!", "09506000134352")


def test_digital_link_rejects_date_outside_yymmdd_range() -> None:
    with pytest.raises(
        MalformedInput, match=r"expiry_date \(AI 17\): expected a date in 2000-2099"
    ):
        build_digital_link("id.gs1.org", "09506000134352", expiry_date=date(2100, 1, 1))


_domains = st.from_regex(r"[a-z0-9]{1,10}(\.[a-z0-9]{1,10}){0,2}(:[0-9]{2,4})?", fullmatch=True)
_ai_values = st.text(alphabet=sorted(CSET82), min_size=1, max_size=20)
_dates = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))
_prefixes = st.from_regex(r"[A-Za-z0-9._~-]{1,8}(/[A-Za-z0-9._~-]{1,8}){0,2}", fullmatch=True)


@st.composite
def _links(draw: st.DrawFn) -> DigitalLink:
    data = draw(_gtin_data)
    return DigitalLink(
        draw(_domains),
        data + gtin_check_digit(data),
        draw(st.none() | _ai_values),
        draw(st.none() | _ai_values),
        draw(st.none() | _dates),
        draw(st.none() | _dates),
        draw(st.none() | _prefixes),
    )


@given(_links())
def test_digital_link_build_parse_round_trip(link: DigitalLink) -> None:
    uri = build_digital_link(
        link.domain,
        link.gtin,
        lot=link.lot,
        serial=link.serial,
        production_date=link.production_date,
        expiry_date=link.expiry_date,
        prefix=link.prefix,
    )
    assert uri == link.uri()
    assert parse_digital_link(uri) == link
