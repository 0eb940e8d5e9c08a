"""The aggregates the loader keeps (sms.campaign_outcome, sms.campaign_delivery_time) and the
views the dashboards read from them.

Varied data goes through the real loader: three syncs of the simulator hours apart
(campaigns first seen in flight, then merged; SMSFactor snapshots), and hand-made Nixflex
answers for the edges (an empty or missing error message, an undocumented status, a
recipient with no sent_at, one a later answer no longer lists, and a recipient the careful
parser quarantines). Each rewritten view must give exactly the rows its former definition
gives (the former queries are kept in tests/fixtures/views_before_marts/, run inline), and
the check aggregates_match_facts must pass, then name the campaign whose aggregate row is
damaged by hand.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from pipelines.warehouse import replay
from pipelines.warehouse.checks import run_check
from pipelines.warehouse.landing import land_now
from pipelines.warehouse.lanes import load_pending
from tests.conftest import SimulatorHandle
from tests.sync_helpers import checks_by_name, rows, run_full_sync, scalar
from tests.test_loader import T, nixflex_detail, recipient

pytestmark = pytest.mark.slow

BEFORE = Path(__file__).parent / "fixtures" / "views_before_marts"
CAMPAIGN_DELIVERY_COLUMNS = (
    "provider, campaign_id, name, status, created_at, total, delivered, failed, pending, "
    "unknown, delivery_rate, as_of"
)
REWRITTEN = (
    ("sms.campaign_delivery", "30_sms.campaign_delivery", CAMPAIGN_DELIVERY_COLUMNS),
    ("sms.failure_reasons", "50_sms.failure_reasons", "*"),
    ("sms.failures_by_category", "71_sms.failures_by_category", "*"),
)


def _person(phone: str, status: str, error: str | None = None, sent: bool = True) -> dict:
    r = recipient(phone, status)
    r["error_message"] = error
    if not sent:
        r["sent_at"] = None
    return r


def _land_edges(engine: Engine) -> None:
    """Hand-made Nixflex answers through the loader: first sight (COPY), then a later answer
    (merge) that changes statuses, drops a recipient and carries one the careful parser
    quarantines."""
    first = [
        _person("+441", "queued", sent=False),
        _person("+442", "failed", ""),
        _person("+443", "failed", None),
        _person("+444", "undelivered", "Unknown handset"),
        _person("+445", "sent"),
        _person("+446", "whatever-new"),
        _person("+447", "delivered"),
    ]
    land_now(engine, nixflex_detail("smsc_edge", first, T))
    later = [
        _person("+441", "failed", "Carrier on strike", sent=False),
        _person("+442", "failed", ""),
        _person("+443", "delivered"),
        _person("+444", "undelivered", "Unknown handset"),
        _person("+446", "whatever-new"),
        _person("+447", "delivered"),
        _person("+448", "pending", sent=False),
    ]
    bad = _person("+449", "failed", "Message filtered")
    bad["sent_at"] = "20/11/2026 10:00"  # a time format the parser does not read
    land_now(engine, nixflex_detail("smsc_edge", [*later, bad], T + timedelta(hours=3)))
    # One more change: the recount replaces the campaign's rows, its delivery time included.
    last = [*later[:-1], _person("+448", "undelivered", "Message filtered", sent=False)]
    land_now(engine, nixflex_detail("smsc_edge", [*last, bad], T + timedelta(hours=4)))
    land_now(engine, nixflex_detail("smsc_empty", [], T))
    load_pending(engine)


@pytest.fixture
def varied(engine: Engine, simulator: SimulatorHandle) -> Engine:
    with engine.begin() as conn:  # as empty as the facts the engine fixture empties
        conn.execute(text("truncate sms.campaign_outcome, sms.campaign_delivery_time"))
    for _ in range(3):
        assert run_full_sync().success
        simulator.clock.advance(timedelta(hours=2))
    _land_edges(engine)
    assert scalar(engine, "select count(*) from raw.quarantine where item is not null") >= 1
    assert (
        scalar(engine, "select count(*) from raw.vendor_response where load_status <> 'loaded'")
        == 0
    )
    assert scalar(
        engine, "select count(*) from sms.campaign_delivery_time where campaign_id = 'smsc_edge'"
    )
    assert scalar(
        engine, "select count(*) from sms.recipient_delivery where missing_since is not null"
    )
    return engine


def _multiset(engine: Engine, sql: str) -> Counter[tuple[str, ...]]:
    return Counter(tuple(str(v) for v in r.values()) for r in rows(engine, sql))


def assert_views_give_their_former_rows(engine: Engine) -> None:
    for view, before, columns in REWRITTEN:
        former = (BEFORE / f"{before}.sql").read_text().strip().rstrip(";")
        now = _multiset(engine, f"select {columns} from {view}")
        then = _multiset(engine, f"select {columns} from ({former}) as former")
        assert now, view
        assert now == then, view


def test_the_views_give_what_their_former_definitions_gave(varied: Engine) -> None:
    assert_views_give_their_former_rows(varied)
    assert run_check(varied, "aggregates_match_facts").rows == []
    # The edges are there: both empty and missing error messages, an undocumented status.
    reasons = {r["reason"] for r in rows(varied, "select reason from sms.failure_reasons")}
    assert {"no error message: failed", "Carrier on strike"} <= reasons
    edge = rows(varied, "select * from sms.campaign_delivery where campaign_id = 'smsc_edge'")
    assert (edge[0]["total"], edge[0]["unknown"], edge[0]["pending"]) == (7, 1, 0)
    assert edge[0]["account"] == "default" and edge[0]["day"] == T.date()
    empty = rows(varied, "select * from sms.campaign_delivery where campaign_id = 'smsc_empty'")
    assert (empty[0]["total"], empty[0]["delivery_rate"]) == (0, None)


def test_a_full_replay_rebuilds_the_aggregates(varied: Engine) -> None:
    held = {
        t: _multiset(varied, f"select * from {t}")
        for t in ("sms.campaign_outcome", "sms.campaign_delivery_time")
    }
    with varied.begin() as conn:  # a stray row a replay must not keep
        conn.execute(
            text(
                "insert into sms.campaign_outcome (provider, campaign_id, outcome, messages) "
                "values ('nixflex', 'smsc_gone', 'delivered', 5)"
            )
        )
    replay.replay(varied, replay.ReplayScope.ALL)
    for table, before in held.items():
        assert _multiset(varied, f"select * from {table}") == before, table
    assert_views_give_their_former_rows(varied)


def test_the_check_names_the_campaign_whose_aggregate_is_damaged(varied: Engine) -> None:
    nixflex, smsfactor = (
        str(
            scalar(
                varied,
                "select min(campaign_id) from sms.campaign_outcome where provider = :p",
                p=provider,
            )
        )
        for provider in ("nixflex", "smsfactor")
    )
    timed = str(scalar(varied, "select max(campaign_id) from sms.campaign_delivery_time"))
    with varied.begin() as conn:
        conn.execute(
            text(
                "update sms.campaign_outcome set messages = messages + 1 where ctid = "
                "(select ctid from sms.campaign_outcome where campaign_id = :c limit 1)"
            ),
            {"c": nixflex},
        )
        conn.execute(
            text(
                "delete from sms.campaign_outcome where campaign_id = :c and outcome = 'delivered'"
            ),
            {"c": smsfactor},
        )
        conn.execute(
            text(
                "update sms.campaign_delivery_time set recipients = recipients + 1 where ctid = "
                "(select ctid from sms.campaign_delivery_time where campaign_id = :c limit 1)"
            ),
            {"c": timed},
        )
    named = {
        (r["provider"], r["campaign_id"], r["aggregate"])
        for r in run_check(varied, "aggregates_match_facts").rows
    }
    assert named == {
        ("nixflex", nixflex, "sms.campaign_outcome"),
        ("smsfactor", smsfactor, "sms.campaign_outcome"),
        ("nixflex", timed, "sms.campaign_delivery_time"),
    }


def test_a_sync_runs_the_check_on_what_it_loaded(
    engine: Engine, simulator: SimulatorHandle
) -> None:
    result = run_full_sync()
    assert result.success
    check = checks_by_name(result)["aggregates_match_facts"]
    assert check.passed
    assert str(check.metadata["scope"].value).startswith("campaigns loaded since")


def test_delivery_by_country_adds_up_to_daily_delivery(varied: Engine) -> None:
    by_country = rows(
        varied,
        "select day, account, sender, sum(total)::bigint as total, "
        "sum(delivered)::bigint as delivered, sum(failed)::bigint as failed, "
        "sum(pending)::bigint as pending, sum(unknown)::bigint as unknown "
        "from sms.daily_delivery_by_country group by 1, 2, 3 order by 1, 2, 3",
    )
    daily = rows(
        varied,
        "select day, account, sender, total, delivered, failed, pending, unknown "
        "from sms.daily_delivery where provider = 'nixflex' and total > 0 order by 1, 2, 3",
    )
    assert by_country == daily and daily  # a day of campaigns without recipients has no row
    # Per country, the recipients as the facts hold them.
    facts = rows(
        varied,
        "select country, count(*) as total from sms.fact_recipient_delivery group by country",
    )
    per_country = rows(
        varied,
        "select country, sum(total)::bigint as total from sms.daily_delivery_by_country "
        "group by country",
    )
    assert Counter({r["country"]: r["total"] for r in per_country}) == Counter(
        {r["country"]: r["total"] for r in facts}
    )


def _bound(seconds: int) -> int:
    """The documented bucket: floor(1.1 ^ ceil(log_1.1 s)), 0 for 0 (restated here)."""
    if seconds < 1:
        return 0
    k = math.ceil(math.log(seconds) / math.log(1.1) - 1e-12)
    return math.floor(1.1**k + 1e-9)


def test_time_to_delivery_percentiles_are_within_ten_percent_above(varied: Engine) -> None:
    measured = rows(
        varied,
        "select (coalesce(d.sent_at, d.scheduled_at, d.created_at) at time zone 'UTC')::date "
        "as day, t.seconds_to_delivery_at_most as s "
        "from sms.recipient_time_to_delivery as t "
        "join sms.dim_campaign as d on d.provider = 'nixflex' and d.campaign_id = t.campaign_id",
    )
    by_day: dict[object, list[int]] = defaultdict(list)
    for r in measured:
        by_day[r["day"]].append(int(r["s"]))
    got = {r["day"]: r for r in rows(varied, "select * from sms.daily_time_to_delivery")}
    assert set(got) == set(by_day) and got
    for day, seconds in by_day.items():
        seconds.sort()
        row = got[day]
        assert row["delivered_measured"] == len(seconds)
        for p, column in ((0.5, "p50_seconds"), (0.9, "p90_seconds"), (0.99, "p99_seconds")):
            exact = seconds[math.ceil(p * len(seconds)) - 1]  # percentile_disc
            assert row[column] == _bound(exact), (day, column)
            assert exact <= row[column] < 1.1 * exact or row[column] == exact == 0
