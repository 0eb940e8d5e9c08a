"""Each Nixflex recipient's country (ISO 3166-1 alpha-2), derived at load from its number
as received: exactly what the phonenumbers library says, NULL when it names none, kept when
phones are pseudonymised, computed once per recipient, and warned about when missing."""

from __future__ import annotations

import os
from datetime import timedelta

import dagster as dg
import phonenumbers
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from pipelines.defs.checks import SQL_CHECKS
from pipelines.warehouse import country as country_module
from pipelines.warehouse.checks import run_check
from pipelines.warehouse.country import country
from pipelines.warehouse.landing import land_now
from pipelines.warehouse.lanes import load_pending
from pipelines.warehouse.privacy import Privacy
from tests.conftest import SimulatorHandle
from tests.sync_helpers import checks_by_name, rows, run_full_sync, scalar
from tests.test_loader import T, nixflex_detail

# Numbers and the country their numbering plan assigns them (not what the code says).
PLACED = {
    "+447400123456": "GB",  # UK mobile, 074
    "+442072193000": "GB",  # London, 020
    "+441534123456": "JE",  # Jersey, 01534 (shares +44)
    "+441624123456": "IM",  # Isle of Man, 01624 (shares +44)
    "+33612345678": "FR",  # French mobile, 06
    "+12025550123": "US",  # Washington DC, area code 202
    "+14165550123": "CA",  # Toronto, area code 416 (shares +1)
    "+74951234567": "RU",  # Moscow, 495
    "+77012345678": "KZ",  # Kazakh mobile, 701 (shares +7)
    "+4915123456789": "DE",  # German mobile, 0151
}
UNPLACED = [
    "not a number",
    "+999123456789",  # +999: no country has it
    "+80012345678",  # +800: international freephone, no country
    "+44",  # a calling code alone
]
SALT = "a long random secret"
CI = bool(os.environ.get("CI"))


def phonenumbers_says(phone: str) -> str | None:
    """The definition: phonenumbers' region, None for none, "001" or a parse error."""
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(phone))
    except phonenumbers.NumberParseException:
        return None
    return None if region in (None, "001") else region


def test_numbers_get_the_country_their_numbering_plan_gives() -> None:
    assert {phone: country(phone) for phone in PLACED} == PLACED
    assert [country(phone) for phone in UNPLACED] == [None] * len(UNPLACED)


# --- exactly what phonenumbers says, for any text ---------------------------------------------

CODES = sorted(str(code) for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
SHARED = sorted(str(c) for c, r in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items() if len(r) > 1)
DIGITS = st.text(alphabet="0123456789", max_size=20)
NOISE = st.sampled_from(
    ["", " ", "-", "(", ")", "x", "#", ";ext=", "\u0663", "\uff10", "\u00b2", "a", "+", "\n"]
)


@st.composite
def e164_like(draw: st.DrawFn) -> str:
    """'+', a calling code phonenumbers knows (or any digits), a national number of any
    length, now and then a national prefix, and now and then a character out of place."""
    code = draw(st.one_of(st.sampled_from(CODES), st.sampled_from(SHARED), DIGITS))
    national = draw(st.one_of(st.sampled_from(["", "0", "00", "1", "180020"]), DIGITS))
    phone = "+" + code + national + draw(DIGITS)
    at = draw(st.integers(0, len(phone)))
    return phone[:at] + draw(NOISE) + phone[at:]


# phonenumbers' own example number of every type of every region: valid numbers of each
# region, in every calling code several regions share.
EXAMPLES = sorted(
    {
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        for region in phonenumbers.SUPPORTED_REGIONS
        for kind in vars(phonenumbers.PhoneNumberType).values()
        if isinstance(kind, int)
        and (number := phonenumbers.example_number_for_type(region, kind)) is not None
    }
)


@st.composite
def near_examples(draw: st.DrawFn) -> str:
    """An example number with its last digits changed, some of them dropped or added."""
    phone = draw(st.sampled_from(EXAMPLES))
    cut = draw(st.integers(0, min(6, len(phone) - 2)))
    return phone[: len(phone) - cut] + draw(DIGITS.map(lambda d: d[: cut + 2]))


PHONES = st.one_of(
    e164_like(),
    near_examples(),
    st.builds(lambda c, n: f"+{c}{n}", st.sampled_from(CODES), DIGITS),
    st.text(max_size=30),
    st.text(alphabet="+0123456789 -()\u0663\uff10", max_size=25),
)


@settings(
    max_examples=2_000 if CI else 5_000,
    derandomize=CI,  # the same examples on every CI run: a red CI is reproducible
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(PHONES)
@example("+447781123456")  # Guernsey mobile, 07781: after GB's tests fail
@example("+390669812345")  # Vatican City, 06698 (shares +39 with Italy)
@example("+4407400123456")  # a national prefix after the calling code
@example("+5491123456789")  # Argentina: a national prefix transform rule
@example("+٤٤7400123456")  # Arabic-Indic digits: parse reads them as digits
@example("+4474001234567890123")  # too long for any plan
def test_country_is_exactly_what_phonenumbers_says(phone: str) -> None:
    assert country(phone) == phonenumbers_says(phone)


def test_every_example_number_matches_phonenumbers() -> None:
    assert len(EXAMPLES) > 900
    assert [country(p) for p in EXAMPLES] == [phonenumbers_says(p) for p in EXAMPLES]


@pytest.mark.parametrize("code", CODES)
def test_every_calling_code_at_every_length_matches_phonenumbers(code: str) -> None:
    for length in range(0, 19):
        for digits in ("0123456789" * 2, "9876543210" * 2, "1" * 20, "7" * 20, "0" * 20):
            phone = f"+{code}{digits[:length]}"
            assert country(phone) == phonenumbers_says(phone), phone


def test_a_usual_number_costs_no_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    """The E.164 numbers recipients have are placed without phonenumbers' parse (tens of
    microseconds: more than the rest of a recipient's load)."""

    def no_parse(*_: object) -> None:
        raise AssertionError("parse called")

    monkeypatch.setattr(country_module, "parse", no_parse)
    assert {phone: country(phone) for phone in PLACED} == PLACED
    assert country("+447700900123") is None  # Ofcom's range for drama: no country


# --- at load ----------------------------------------------------------------------------------


def _person(phone: str, status: str = "delivered", **extra: object) -> dict:
    return {"phone": phone, "status": status, "sent_at": "2026-11-20T11:01:00Z", **extra}


def _countries(engine: Engine) -> dict[str, str | None]:
    found = rows(engine, "select phone, country from sms.fact_recipient_delivery")
    return {str(r["phone"]): r["country"] for r in found}


MIXED = ["+447400123456", "+33612345678", "+12025550123", "not a number", "+999123456789"]
MIXED_EXPECTED = {
    "+447400123456": "GB",
    "+33612345678": "FR",
    "+12025550123": "US",
    "not a number": None,
    "+999123456789": None,
}


@pytest.mark.parametrize("plain", [True, False], ids=["fast reader", "careful parser"])
def test_a_campaign_of_several_countries_loads_whole_with_each_country(
    engine: Engine, plain: bool
) -> None:
    people = [_person(p) for p in MIXED]
    if not plain:  # an undocumented field sends the answer through the careful parser
        people[0]["carrier"] = "EE"
    land_now(engine, nixflex_detail("smsc_world", people, T))
    stats = load_pending(engine)
    assert stats.responses_quarantined == 0
    assert _countries(engine) == MIXED_EXPECTED
    total = scalar(engine, "select total from sms.campaign_delivery where campaign_id = :c",
                   c="smsc_world")  # fmt: skip
    assert total == len(MIXED)


@pytest.mark.parametrize("plain", [True, False], ids=["fast reader", "careful parser"])
def test_a_later_answer_places_its_new_recipients_and_keeps_the_others(
    engine: Engine, plain: bool
) -> None:
    land_now(engine, nixflex_detail("smsc_grow", [_person(p, "sent") for p in MIXED[:2]], T))
    load_pending(engine)
    # Held recipients are not placed again: a country set meanwhile stays as it is.
    with engine.begin() as conn:
        conn.execute(text("update sms.recipient_delivery set country = 'ZZ' where phone = :p"),
                     {"p": MIXED[0]})  # fmt: skip
    people = [_person(p) for p in MIXED]
    if not plain:
        people[-1]["carrier"] = "EE"
    land_now(engine, nixflex_detail("smsc_grow", people, T + timedelta(minutes=15)))
    load_pending(engine)
    assert _countries(engine) == {**MIXED_EXPECTED, MIXED[0]: "ZZ"}
    statuses = rows(engine, "select distinct status from sms.fact_recipient_delivery")
    assert statuses == [{"status": "delivered"}]  # the merge did run


def test_the_country_survives_the_salt_on_both_roads(engine: Engine) -> None:
    salted = Privacy.from_setting(SALT)
    with engine.begin() as conn:
        conn.execute(text("delete from meta.sms_privacy"))
    # Loaded before the salt was set, then rewritten to pseudonyms.
    land_now(engine, nixflex_detail("smsc_before", [_person(p) for p in MIXED], T))
    load_pending(engine)
    # Loaded with the salt set.
    later = [_person(p) for p in ["+14165550123", "+441534123456", "+80012345678"]]
    land_now(engine, nixflex_detail("smsc_after", later, T))
    load_pending(engine, privacy=salted)
    found = rows(engine, "select campaign_id, phone, country from sms.fact_recipient_delivery")
    assert all(r["phone"] not in MIXED for r in found)  # every phone is a pseudonym now
    assert {(r["campaign_id"], r["phone"], r["country"]) for r in found} == {
        *(("smsc_before", salted.phone(p), c) for p, c in MIXED_EXPECTED.items()),
        ("smsc_after", salted.phone("+14165550123"), "CA"),
        ("smsc_after", salted.phone("+441534123456"), "JE"),
        ("smsc_after", salted.phone("+80012345678"), None),
    }


def test_the_warn_check_names_the_campaign_and_counts_phones_without_a_country(
    engine: Engine,
) -> None:
    spec = next(c for c in SQL_CHECKS if c.name == "recipient_phone_names_a_country")
    assert (spec.severity.value, spec.blocking) == ("WARN", False)
    land_now(engine, nixflex_detail("smsc_world", [_person(p) for p in MIXED], T))
    land_now(engine, nixflex_detail("smsc_home", [_person(p) for p in MIXED[:3]], T))
    load_pending(engine)
    outcome = run_check(engine, "recipient_phone_names_a_country")
    assert outcome.campaigns == ["nixflex:smsc_world"]
    assert outcome.rows == [
        {
            "provider": "nixflex",
            "campaign_id": "smsc_world",
            "phones_without_country": 2,
            "recipients": 5,
        }
    ]
    loaded_at = scalar(engine, "select max(last_loaded_at) from sms.campaign_poll_state")
    later = loaded_at + timedelta(seconds=1)  # type: ignore[operator]
    assert run_check(engine, "recipient_phone_names_a_country", since=later).passed


@pytest.mark.slow
def test_a_sync_over_the_simulator_places_every_recipient_and_passes_the_checks(
    engine: Engine, simulator: SimulatorHandle
) -> None:
    result = run_full_sync()
    assert result.success
    checks = checks_by_name(result)
    errors = {c.name for c in SQL_CHECKS if c.severity == dg.AssetCheckSeverity.ERROR}
    assert {name for name in errors if not checks[name].passed} == set()
    assert checks["recipient_phone_names_a_country"].passed
    # The simulator's recipients have UK mobile numbers.
    placed = rows(engine, "select country, count(*) from sms.fact_recipient_delivery group by 1")
    assert [r["country"] for r in placed] == ["GB"]
    assert placed[0]["count"] > 0
