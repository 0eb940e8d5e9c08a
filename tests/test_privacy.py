"""Privacy that holds: with ``PHONE_HASH_SALT`` set, no relation an analyst reads holds a
phone number, a recipient's variables or a rendered message, whatever was loaded before the
salt was set; switching the salt on keeps every count; changing it does not double them.

What the vendor sent is read back from the raw landing (every Nixflex campaign answer);
what the warehouse shows is every row of every relation of schema ``sms``, found in the
catalog, as text.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import ProgrammingError

from pipelines.warehouse import bodies, pseudonymise
from pipelines.warehouse.landing import land_now
from pipelines.warehouse.lanes import load_pending
from pipelines.warehouse.privacy import Privacy
from pipelines.warehouse.replay import replay
from tests.conftest import SimulatorHandle
from tests.sync_helpers import rows, run_full_sync, scalar
from tests.test_loader import T, nixflex_detail

pytestmark = pytest.mark.slow

SALT_A, SALT_B = "a long random secret", "another long random secret"


@pytest.fixture
def warehouse(engine: Engine) -> Engine:
    """The empty warehouse, with no privacy setting recorded yet (as on a new one)."""
    with engine.begin() as conn:
        conn.execute(text("delete from meta.sms_privacy"))
    return engine


def personal_data_sent(engine: Engine) -> dict[str, set[str]]:
    """Every phone, variable value and rendered message in the Nixflex answers landed."""
    found: dict[str, set[str]] = {"phones": set(), "variables": set(), "rendered": set()}
    with engine.connect() as conn:
        ids = conn.execute(
            text(
                "select response_id from raw.vendor_response "
                "where provider = 'nixflex' and endpoint = 'campaign.get' and http_status = 200"
            )
        ).scalars()
        for response_id in list(ids):
            payload, body = bodies.read_back(conn, response_id)
            doc = payload if payload is not None else json.loads(body or b"{}")
            for r in doc.get("recipients") or []:
                found["phones"].add(r["phone"])
                found["variables"].update(str(v) for v in (r.get("variables") or {}).values())
                if r.get("rendered_message"):
                    found["rendered"].add(r["rendered_message"])
    assert all(found.values()), "the answers hold phones, variables and messages to look for"
    return found


def sms_relations(engine: Engine) -> list[str]:
    """Every table and view of schema sms, from the catalog."""
    return [
        str(r)
        for r in rows(
            engine,
            "select format('%I.%I', n.nspname, c.relname) as name from pg_class c "
            "join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = 'sms' and c.relkind in ('r', 'p', 'v', 'm') order by 1",
        )
        for r in r.values()
    ]


def personal_data_in_sms(engine: Engine, sent: dict[str, set[str]]) -> dict[str, list[str]]:
    """Which relation of sms shows which of ``sent``, every row read as text."""
    needles = [re.escape(p) for p in sent["phones"]]
    needles += [re.escape(p.lstrip("+")) for p in sent["phones"]]
    needles += [rf"\b{re.escape(v)}\b" for v in sent["variables"]]
    needles += [re.escape(m) for m in sent["rendered"]]
    pattern = re.compile("|".join(needles))
    shown: dict[str, list[str]] = {}
    with engine.connect() as conn:
        for relation in sms_relations(engine):
            for (row,) in conn.execute(text(f"select t::text from {relation} as t")):
                if hits := pattern.findall(row):
                    shown.setdefault(relation, []).extend(hits)
    return shown


def counts(engine: Engine) -> dict[str, object]:
    """What analysts count: every campaign and every day's numbers, every relation's rows."""
    out: dict[str, object] = {
        "campaign_delivery": rows(
            engine,
            "select provider, campaign_id, total, delivered, failed, pending, unknown, "
            "delivery_rate from sms.campaign_delivery order by provider, campaign_id",
        ),
        "daily_delivery": rows(
            engine, "select * from sms.daily_delivery order by day, provider, account, sender"
        ),
    }
    for relation in sms_relations(engine):
        out[relation] = scalar(engine, f"select count(*) from {relation}")
    return out


def recorded_setting(engine: Engine) -> dict[str, Any] | None:
    found = rows(engine, "select * from meta.sms_privacy")
    return found[0] if found else None


def recipients(engine: Engine) -> list[dict[str, Any]]:
    return rows(engine, "select * from sms.recipient_delivery order by campaign_id, phone")


def transitions(engine: Engine) -> list[dict[str, Any]]:
    return rows(
        engine,
        "select * from sms.recipient_status_transition order by campaign_id, phone, observed_at",
    )


def test_with_the_salt_set_no_sms_relation_shows_a_phone_a_variable_or_a_message(
    warehouse: Engine, simulator: SimulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PHONE_HASH_SALT", SALT_A)
    assert run_full_sync().success
    simulator.clock.advance(timedelta(hours=2))  # recipients move: merges, status changes
    assert run_full_sync().success
    assert scalar(warehouse, "select count(*) from sms.recipient_status_transition") > 0
    assert scalar(warehouse, "select count(*) from sms.fact_recipient_delivery") > 0
    assert personal_data_in_sms(warehouse, personal_data_sent(warehouse)) == {}


@pytest.mark.parametrize("plain", [True, False], ids=["fast reader", "careful parser"])
def test_with_the_salt_set_variables_are_not_written_on_either_road(
    warehouse: Engine, plain: bool
) -> None:
    people = [
        {
            "phone": "+447762873502",
            "variables": {"first_name": "Philippa", "code": "X7QZ31"},
            "status": "delivered",
            "rendered_message": "Hi Philippa, your code is X7QZ31",
        },
        {"phone": "+447700900123", "variables": {"first_name": "Ottoline"}, "status": "queued"},
    ]
    if not plain:  # an undocumented field sends the answer through the careful parser
        people[1]["carrier"] = "EE"
    land_now(warehouse, nixflex_detail("smsc_a", people, T))
    load_pending(warehouse, privacy=Privacy.from_setting(SALT_A))
    held = rows(warehouse, "select variables, rendered_message from sms.recipient_delivery")
    assert len(held) == 2
    assert held == [{"variables": None, "rendered_message": None}] * 2
    assert personal_data_in_sms(warehouse, personal_data_sent(warehouse)) == {}


def test_switching_the_salt_on_rewrites_what_was_loaded_and_keeps_every_count(
    warehouse: Engine,
    simulator: SimulatorHandle,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.delenv("PHONE_HASH_SALT", raising=False)
    assert run_full_sync().success
    simulator.clock.advance(timedelta(hours=2))
    assert run_full_sync().success
    before = counts(warehouse)
    sent = personal_data_sent(warehouse)
    assert personal_data_in_sms(warehouse, sent)  # as received: the scan finds them
    assert recorded_setting(warehouse)["written_with"] == "as received"

    # The salt is switched on; every campaign is read again, the answers identical to the
    # ones loaded (the vendor's clock has not moved).
    monkeypatch.setenv("PHONE_HASH_SALT", SALT_A)
    with caplog.at_level(logging.INFO):
        assert run_full_sync("force_refresh").success
    assert counts(warehouse) == before
    assert personal_data_in_sms(warehouse, sent) == {}
    assert "privacy: sms rewritten to pseudonymised" in caplog.text
    assert SALT_A not in caplog.text and not any(p in caplog.text for p in sent["phones"])
    salted = Privacy.from_setting(SALT_A).fingerprint
    assert recorded_setting(warehouse)["written_with"] == salted
    assert SALT_A not in salted

    # The rewrite gave exactly what loading every answer with the salt gives.
    rewritten = (recipients(warehouse), transitions(warehouse))
    replay(warehouse, privacy=Privacy.from_setting(SALT_A))
    assert (recipients(warehouse), transitions(warehouse)) == rewritten
    assert recorded_setting(warehouse)["written_with"] == salted

    # Later answers merge into the rewritten recipients: the totals stay the vendor's.
    simulator.clock.advance(timedelta(hours=3))
    assert run_full_sync().success
    after = counts(warehouse)
    assert [(c["campaign_id"], c["total"]) for c in after["campaign_delivery"]] == [
        (c["campaign_id"], c["total"]) for c in before["campaign_delivery"]
    ]
    assert after["sms.recipient_delivery"] == before["sms.recipient_delivery"]
    assert personal_data_in_sms(warehouse, personal_data_sent(warehouse)) == {}


def test_a_rewrite_cut_short_resumes_at_the_next_sync(
    warehouse: Engine, simulator: SimulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PHONE_HASH_SALT", raising=False)
    assert run_full_sync().success
    simulator.clock.advance(timedelta(hours=2))
    assert run_full_sync().success
    before = counts(warehouse)
    sent = personal_data_sent(warehouse)

    # The second batch of two campaigns fails after its writes, before it commits.
    monkeypatch.setenv("PHONE_HASH_SALT", SALT_A)
    monkeypatch.setattr(pseudonymise, "BATCH_CAMPAIGNS", 2)
    real = pseudonymise._rewrite_batch
    batches: list[list[str]] = []

    def crash_on_second(conn: Any, privacy: Privacy, campaigns: list[str], report: Any) -> None:
        real(conn, privacy, campaigns, report)
        batches.append(campaigns)
        if len(batches) == 2:
            raise ConnectionError("the warehouse went away")

    monkeypatch.setattr(pseudonymise, "_rewrite_batch", crash_on_second)
    assert not run_full_sync().success
    held = recorded_setting(warehouse)
    salted = Privacy.from_setting(SALT_A).fingerprint
    assert held is not None
    assert (held["written_with"], held["rewriting_to"]) == ("as received", salted)
    assert held["rewritten_through"] == batches[0][-1]
    done = {r["campaign_id"] for r in recipients(warehouse) if "*" in r["phone"]}
    assert done == set(batches[0])  # the first batch committed, the second did not

    monkeypatch.setattr(pseudonymise, "_rewrite_batch", real)
    assert run_full_sync().success  # the clock has not moved: the answers are the same
    assert counts(warehouse) == before
    assert personal_data_in_sms(warehouse, sent) == {}
    held = recorded_setting(warehouse)
    assert held is not None
    assert (held["written_with"], held["rewriting_to"]) == (salted, None)
    rewritten = (recipients(warehouse), transitions(warehouse))
    replay(warehouse, privacy=Privacy.from_setting(SALT_A))  # no phone pseudonymised twice
    assert (recipients(warehouse), transitions(warehouse)) == rewritten


@pytest.mark.parametrize("pruned", [False, True], ids=["raw kept", "raw pruned"])
def test_a_new_salt_does_not_double_the_counts(
    warehouse: Engine,
    simulator: SimulatorHandle,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    pruned: bool,
) -> None:
    monkeypatch.setenv("PHONE_HASH_SALT", SALT_A)
    assert run_full_sync().success
    before = counts(warehouse)
    if pruned:  # as raw retention records a month it deleted
        with warehouse.begin() as conn:
            conn.execute(text("insert into raw.pruned_month (month, answers) values "
                              "('2020-01-01', 3)"))  # fmt: skip

    monkeypatch.setenv("PHONE_HASH_SALT", SALT_B)
    with caplog.at_level(logging.INFO):
        assert run_full_sync("force_refresh").success  # identical answers: not read again
    assert counts(warehouse) == before
    said = caplog.text
    assert "recipients hold pseudonyms made with another salt" in said
    assert ("cannot all be rebuilt" in said) == pruned
    assert ("`make replay` rebuilds them" in said) == (not pruned)
    assert SALT_A not in said and SALT_B not in said
    held = recorded_setting(warehouse)
    assert held is not None and held["written_with"] == Privacy.from_setting(SALT_B).fingerprint

    simulator.clock.advance(timedelta(hours=2))  # campaigns move, their answers are read
    assert run_full_sync().success
    salted_b = Privacy.from_setting(SALT_B)
    read_again = {r["phone"] for r in recipients(warehouse)} & {
        salted_b.phone(p) for p in personal_data_sent(warehouse)["phones"]
    }
    assert read_again, "some campaigns were read again under the new salt"
    after = counts(warehouse)
    assert [(c["campaign_id"], c["total"]) for c in after["campaign_delivery"]] == [
        (c["campaign_id"], c["total"]) for c in before["campaign_delivery"]
    ]
    assert sum(int(d["total"]) for d in after["daily_delivery"]) == sum(
        int(d["total"]) for d in before["daily_delivery"]
    )
    assert personal_data_in_sms(warehouse, personal_data_sent(warehouse)) == {}


def test_the_recorded_setting_is_the_pipelines_and_not_the_analysts(warehouse: Engine) -> None:
    land_now(warehouse, nixflex_detail("smsc_a", [], T))
    load_pending(warehouse, privacy=Privacy.from_setting(SALT_A))
    held = recorded_setting(warehouse)
    assert held is not None
    assert held["written_with"] == Privacy.from_setting(SALT_A).fingerprint
    assert SALT_A not in str(held)
    assert Privacy.from_setting(SALT_B).fingerprint != held["written_with"]
    with warehouse.connect() as conn:
        conn.execute(text("set role sms_analyst"))
        with pytest.raises(ProgrammingError, match="permission denied"):
            conn.execute(text("select * from meta.sms_privacy"))


def test_a_warehouse_from_before_the_record_is_not_pseudonymised_twice(
    warehouse: Engine,
) -> None:
    people = [
        {"phone": "+447762873502", "variables": {"first_name": "Philippa"}, "status": "queued"},
        {"phone": "+14155550123", "variables": {"first_name": "Ottoline"}, "status": "queued"},
    ]
    salted = Privacy.from_setting(SALT_A)
    land_now(warehouse, nixflex_detail("smsc_a", people, T))
    load_pending(warehouse, privacy=salted)
    # As loaded before the setting was recorded: the record is missing, and the careful
    # road of that time left variables behind.
    with warehouse.begin() as conn:
        conn.execute(text("delete from meta.sms_privacy"))
        conn.execute(text('update sms.recipient_delivery set variables = \'{"a": "Philippa"}\''))
    before = rows(warehouse, "select campaign_id, phone from sms.recipient_delivery order by 2")

    land_now(warehouse, nixflex_detail("smsc_b", people[:1], T + timedelta(minutes=5)))
    load_pending(warehouse, privacy=salted)
    held = rows(warehouse, "select campaign_id, phone, variables from sms.recipient_delivery")
    assert {(r["campaign_id"], r["phone"]) for r in held} == {
        (r["campaign_id"], r["phone"]) for r in before
    } | {("smsc_b", salted.phone("+447762873502"))}
    assert all(r["variables"] is None for r in held)
    assert recorded_setting(warehouse)["written_with"] == salted.fingerprint


def test_switching_the_salt_off_keeps_the_pseudonyms_and_says_so(
    warehouse: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    people = [{"phone": "+447762873502", "status": "queued"}]
    salted = Privacy.from_setting(SALT_A)
    land_now(warehouse, nixflex_detail("smsc_a", people, T))
    load_pending(warehouse, privacy=salted)
    land_now(warehouse, nixflex_detail("smsc_b", people, T + timedelta(minutes=5)))
    with caplog.at_level(logging.INFO):
        load_pending(warehouse)
    held = {
        r["campaign_id"]: r["phone"]
        for r in rows(warehouse, "select campaign_id, phone from sms.recipient_delivery")
    }
    assert held == {"smsc_a": salted.phone("+447762873502"), "smsc_b": "+447762873502"}
    assert "1 recipients hold pseudonyms made with another salt" in caplog.text
    assert recorded_setting(warehouse)["written_with"] == "as received"
