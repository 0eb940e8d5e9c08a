"""Incremental polling against the simulator over real HTTP and a real Postgres.

The pipeline's clock is the simulator's (see ``conftest.simulator``), so hours can pass
between two polls. Expectations come from what the simulator serves, read by the test over
HTTP, and from the documented rules, never from the product's own decisions.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import Engine

from pipelines.fetch import FetchReport, fetch_nixflex, fetch_smsfactor
from pipelines.polling.policy import PollingPolicy
from pipelines.simulator import NIXFLEX_DEMO_KEY, SMSFACTOR_DEMO_TOKEN, Simulator
from pipelines.vendors.nixflex_client import ListPage, NixflexClient
from pipelines.vendors.ratelimit import RateLimiter
from pipelines.vendors.smsfactor_client import SmsFactorClient
from pipelines.warehouse.lanes import load_pending
from tests.sync_helpers import checks_by_name, rows, run_full_sync, scalar

pytestmark = pytest.mark.slow

SMALL_PAGES = PollingPolicy(nixflex_page_size=5, smsfactor_page_size=5)


def nixflex(base_url: str, http: httpx.Client, key: str = NIXFLEX_DEMO_KEY) -> NixflexClient:
    """A client as the resource builds it: paced by its own limiter at the documented rate."""
    return NixflexClient(
        http, api_key=key, base_url=f"{base_url}/nixflex/v1", limiter=RateLimiter(600)
    )


def poll(
    sim: Simulator, base_url: str, engine: Engine, policy: PollingPolicy = SMALL_PAGES
) -> tuple[FetchReport, dict[str, int]]:
    """One Nixflex poll and load; returns the report and the calls the simulator served."""
    before = dict(sim.calls)
    with httpx.Client() as http:
        report = fetch_nixflex(nixflex(base_url, http), engine, policy=policy)
    load_pending(engine)
    served = {
        endpoint: sim.calls[("nixflex", endpoint)] - before.get(("nixflex", endpoint), 0)
        for endpoint in ("list", "get", "rate_limited")
    }
    return report, served


def served_details(base_url: str) -> dict[str, dict]:
    """Every Nixflex campaign's detail as the vendor serves it now."""
    headers = {"Authorization": f"Bearer {NIXFLEX_DEMO_KEY}"}
    with httpx.Client(base_url=f"{base_url}/nixflex/v1", headers=headers) as http:
        listed = http.get("/sms/campaigns", params={"limit": 100}).json()["campaigns"]
        return {
            c["campaign_id"]: http.get(f"/sms/campaigns/{c['campaign_id']}").json() for c in listed
        }


def settled_by_the_docs(detail: dict, now: datetime) -> bool:
    """Final (done/failed, nothing pending) and its last message left over 72 hours ago."""
    if detail["status"] not in ("done", "failed") or detail["pending_count"]:
        return False
    sent = [r["sent_at"] for r in detail["recipients"] if r.get("sent_at")]
    if not sent:
        return False
    last = max(datetime.fromisoformat(s.replace("Z", "+00:00")) for s in sent)
    return last + timedelta(hours=72) <= now


def warehouse_statuses(engine: Engine, campaign_id: str) -> dict[str, str]:
    found = rows(
        engine,
        "select phone, status from sms.fact_recipient_delivery where campaign_id = :c",
        c=campaign_id,
    )
    return {r["phone"]: r["status"] for r in found}


def test_first_poll_reads_everything_then_discovery_stops_early(
    engine: Engine, account: tuple[Simulator, str]
) -> None:
    sim, base_url = account
    report, served = poll(sim, base_url, engine)
    assert served["get"] == 30 and report.campaigns_fetched == 30
    assert served["list"] >= 30 // 5  # the whole list, 5 a page
    assert scalar(engine, "select count(*) from sms.dim_campaign") == 30

    sim.clock.advance(timedelta(minutes=15))
    truth = served_details(base_url)
    settled = {cid for cid, d in truth.items() if settled_by_the_docs(d, sim.clock.now())}
    assert len(settled) >= 20, "most of 60 days of campaigns should be settled"

    calls_before = dict(sim.calls)
    report, served = poll(sim, base_url, engine)
    fetched = {
        r["campaign_id"]
        for r in rows(
            engine,
            "select campaign_id from raw.vendor_response "
            "where endpoint = 'campaign.get' and fetched_at = :t",
            t=sim.clock.now(),
        )
    }
    # One short page per open status (draft, scheduled, running: each lists its few
    # campaigns whatever their age), then the list newest first: the three in-flight
    # campaigns are the newest, the first page covers them, so discovery stops there
    # instead of reading the six pages again.
    assert served["list"] == 3 + 1, calls_before
    assert report.stopped_early
    assert not fetched & settled, "a settled campaign was polled"
    assert served["get"] == len(fetched) <= 30 - len(settled)


def test_campaign_created_between_two_pages_is_found_next_cycle(
    engine: Engine, account: tuple[Simulator, str]
) -> None:
    sim, base_url = account
    poll(sim, base_url, engine)  # backfill
    sim.clock.advance(timedelta(minutes=15))

    added: list[str] = []

    class AddsACampaignMidway(NixflexClient):
        def list_pages(
            self, *, page_size: int = 100, status: str | None = None
        ) -> Iterator[ListPage]:
            for number, page in enumerate(super().list_pages(page_size=page_size, status=status)):
                if status is None and number == 0:  # created right after page one of the list
                    added.append(sim.add_nixflex_campaign(size=30))
                yield page

    with httpx.Client() as http:
        client = AddsACampaignMidway(
            http, api_key=NIXFLEX_DEMO_KEY, base_url=f"{base_url}/nixflex/v1"
        )
        fetch_nixflex(client, engine, policy=SMALL_PAGES)
    load_pending(engine)
    (new_id,) = added
    assert (
        scalar(engine, "select count(*) from sms.dim_campaign where campaign_id = :c", c=new_id)
        == 0
    )

    sim.clock.advance(timedelta(minutes=15))
    report, _ = poll(sim, base_url, engine)
    assert report.fetch_reasons["new"] == 1
    assert warehouse_statuses(engine, new_id) == {
        r["phone"]: r["status"] for r in served_details(base_url)[new_id]["recipients"]
    }


def test_a_changed_summary_triggers_exactly_one_detail_call(
    engine: Engine, account: tuple[Simulator, str]
) -> None:
    sim, base_url = account
    patient = PollingPolicy(nixflex_page_size=5, recheck_every=timedelta(days=1))
    poll(sim, base_url, engine, patient)
    headers = {"Authorization": f"Bearer {NIXFLEX_DEMO_KEY}"}
    with httpx.Client(base_url=f"{base_url}/nixflex/v1", headers=headers) as http:
        before = {
            c["campaign_id"]: c
            for c in http.get("/sms/campaigns", params={"limit": 100}).json()["campaigns"]
        }
        sim.clock.advance(timedelta(minutes=5))
        after = {
            c["campaign_id"]: c
            for c in http.get("/sms/campaigns", params={"limit": 100}).json()["campaigns"]
        }
    changed = {cid for cid in after if after[cid] != before.get(cid)}
    assert changed, "some in-flight campaign should move in five minutes"

    _, served = poll(sim, base_url, engine, patient)
    got = rows(
        engine,
        "select campaign_id, count(*) as n from raw.vendor_response "
        "where endpoint = 'campaign.get' and fetched_at = :t group by campaign_id",
        t=sim.clock.now(),
    )
    assert {r["campaign_id"]: r["n"] for r in got} == dict.fromkeys(changed, 1)
    assert served["get"] == len(changed)


def test_late_receipts_after_done_are_still_captured_inside_the_window(
    engine: Engine, account: tuple[Simulator, str]
) -> None:
    sim, base_url = account
    poll(sim, base_url, engine)
    late_after_done = 0
    previous = served_details(base_url)
    for _ in range(10):  # 60 hours, one poll every 6 hours
        sim.clock.advance(timedelta(hours=6))
        truth = served_details(base_url)
        poll(sim, base_url, engine)
        for cid, detail in truth.items():
            old = {r["phone"]: r["status"] for r in previous[cid]["recipients"]}
            moved = [
                r for r in detail["recipients"] if old.get(r["phone"]) not in (None, r["status"])
            ]
            if previous[cid]["status"] == "done" and moved:
                late_after_done += len(moved)
            if not settled_by_the_docs(detail, sim.clock.now()):
                # Inside the window the warehouse holds exactly what the vendor shows now.
                expected = {r["phone"]: r["status"] for r in detail["recipients"]}
                assert warehouse_statuses(engine, cid) == expected, cid
        previous = truth
    assert late_after_done, "the simulator should deliver some receipts after 'done'"
    changes = scalar(
        engine,
        "select count(*) from sms.fact_recipient_status_change where from_status = 'sent'",
    )
    assert changes >= late_after_done


def test_settled_campaigns_are_not_polled_days_later(
    engine: Engine, account: tuple[Simulator, str]
) -> None:
    sim, base_url = account
    poll(sim, base_url, engine)
    sim.clock.advance(timedelta(days=5))  # everything has settled by now
    poll(sim, base_url, engine)  # the in-flight ones are read once more, now final
    _, served = poll(sim, base_url, engine)
    # The three open statuses' lists and one page: the draft is listed, not fetched (nothing
    # of it was sent, so no receipt can move it).
    assert served == {"list": 3 + 1, "get": 0, "rate_limited": 0}
    unsettled = rows(
        engine,
        "select d.status from sms.campaign_poll_state as p join sms.dim_campaign as d "
        "using (provider, campaign_id) where not p.is_final",
    )
    assert [r["status"] for r in unsettled] == ["draft"]  # a draft never settles


def test_a_429_storm_is_waited_out_and_nothing_is_lost(
    engine: Engine, account: tuple[Simulator, str]
) -> None:
    sim, base_url = account
    sim.throttle_next(6, retry_after=1)
    report, served = poll(sim, base_url, engine)
    assert served["rate_limited"] == 6
    assert report.problems == [] and report.fatal is None
    assert served["get"] == 30
    truth = served_details(base_url)
    for cid, detail in truth.items():
        assert warehouse_statuses(engine, cid) == {
            r["phone"]: r["status"] for r in detail["recipients"]
        }
    assert report.throttled == 6  # what the operator sees in the asset's metadata


def test_a_list_that_ignores_the_status_filter_costs_one_page_not_the_whole_list(
    engine: Engine, account: tuple[Simulator, str]
) -> None:
    """Should Nixflex stop applying ``status=``, each status listing reads one page (it
    shows other statuses) and the sync still loads what moved."""
    sim, base_url = account

    class IgnoresStatus(NixflexClient):
        def _get(self, path, endpoint, params, campaign_id=None):  # type: ignore[no-untyped-def]
            params = {k: v for k, v in params.items() if k != "status"}
            return super()._get(path, endpoint, params, campaign_id)

    with httpx.Client() as http:
        client = IgnoresStatus(http, api_key=NIXFLEX_DEMO_KEY, base_url=f"{base_url}/nixflex/v1")
        fetch_nixflex(client, engine, policy=SMALL_PAGES)
        load_pending(engine)
        sim.clock.advance(timedelta(minutes=15))
        truth = served_details(base_url)
        before = sim.calls[("nixflex", "list")]
        fetch_nixflex(client, engine, policy=SMALL_PAGES)
        load_pending(engine)
    assert sim.calls[("nixflex", "list")] - before == 3 + 1
    for cid, detail in truth.items():
        assert warehouse_statuses(engine, cid) == {
            r["phone"]: r["status"] for r in detail["recipients"]
        }, cid


def test_an_interrupted_poll_drops_the_details_not_started(
    engine: Engine, account: tuple[Simulator, str]
) -> None:
    """SIGTERM or Ctrl-C during a backfill stops it once the requests in flight answered,
    not after every detail queued (a large account would take minutes)."""
    sim, base_url = account

    class Slow(NixflexClient):
        def get_campaign(self, campaign_id: str):  # type: ignore[no-untyped-def]
            time.sleep(0.2)
            return super().get_campaign(campaign_id)

    def interrupt_once_queued(message: str) -> None:
        if "to fetch" in message:
            raise KeyboardInterrupt

    policy = PollingPolicy(nixflex_page_size=5, max_concurrency=2)
    with httpx.Client() as http, pytest.raises(KeyboardInterrupt):
        client = Slow(http, api_key=NIXFLEX_DEMO_KEY, base_url=f"{base_url}/nixflex/v1")
        fetch_nixflex(client, engine, policy=policy, progress=interrupt_once_queued)
    assert sim.calls[("nixflex", "get")] <= 4  # the two in flight, not the 30 queued


def _sf_client(http: httpx.Client, base_url: str) -> SmsFactorClient:
    return SmsFactorClient(http, api_token=SMSFACTOR_DEMO_TOKEN, base_url=f"{base_url}/smsfactor")


def test_smsfactor_history_reads_the_settle_window_and_needs_no_call_per_campaign(
    engine: Engine, account: tuple[Simulator, str]
) -> None:
    sim, base_url = account
    with httpx.Client() as http:
        first = fetch_smsfactor(_sf_client(http, base_url), engine, policy=SMALL_PAGES)
        load_pending(engine)
        sim.clock.advance(timedelta(minutes=15))
        second = fetch_smsfactor(_sf_client(http, base_url), engine, policy=SMALL_PAGES)
        load_pending(engine)
    assert first.campaigns_listed == 30 and first.pages_read >= 6 and first.full_pass
    # Campaigns sent in the last four days (72 h settle window and a day's margin, on the
    # Paris wall clock the vendor filters on), or scheduled later.
    since = (sim.clock.now() - timedelta(days=4)).astimezone(ZoneInfo("Europe/Paris"))
    history = served_history(base_url)
    window = [c for c in history if c["date"] >= f"{since:%Y-%m-%d %H:%M:%S}"]
    assert 3 <= len(window) < 30
    assert not second.full_pass and second.pages_read < first.pages_read
    assert second.campaigns_listed == len(window)
    # Only a campaign held since before the window (not final: it can still move) is read
    # on its own: the simulator holds one in moderation.
    held = [c for c in history if c not in window and c["status"] not in ("Sent", "Denied")]
    assert [c["status"] for c in held] == ["In moderation"]
    assert sim.calls[("smsfactor", "get")] == len(held)
    assert (
        scalar(engine, "select count(distinct campaign_id) from sms.fact_campaign_counters") == 30
    )


def test_smsfactor_history_stops_by_send_date_when_the_vendor_ignores_date_start(
    engine: Engine, account: tuple[Simulator, str]
) -> None:
    """Paging stops in the order the page is sorted by (send date), not by id."""
    sim, base_url = account

    class IgnoresDateStart(SmsFactorClient):
        def _get(self, path, endpoint, params, campaign_id=None):  # type: ignore[no-untyped-def]
            params = {k: v for k, v in params.items() if k != "date_start"}
            return super()._get(path, endpoint, params, campaign_id)

    with httpx.Client() as http:
        client = IgnoresDateStart(
            http, api_token=SMSFACTOR_DEMO_TOKEN, base_url=f"{base_url}/smsfactor"
        )
        first = fetch_smsfactor(client, engine, policy=SMALL_PAGES)
        load_pending(engine)
        sim.clock.advance(timedelta(minutes=15))
        second = fetch_smsfactor(client, engine, policy=SMALL_PAGES)
    assert second.stopped_early and second.pages_read < first.pages_read
    assert sim.calls[("smsfactor", "get")] == 1  # the campaign held in moderation


def served_history(base_url: str) -> list[dict]:
    """Every SMSFactor campaign as the history serves it now."""
    headers = {"Authorization": f"Bearer {SMSFACTOR_DEMO_TOKEN}", "Accept": "application/json"}
    with httpx.Client(base_url=f"{base_url}/smsfactor", headers=headers) as http:
        return http.get("/campaigns", params={"length": 1000}).json()["campaigns"]


def test_refresh_of_one_campaign_and_of_all(engine: Engine, account: tuple[Simulator, str]) -> None:
    sim, base_url = account
    poll(sim, base_url, engine)
    sim.clock.advance(timedelta(days=5))
    poll(sim, base_url, engine)
    oldest = sim.nixflex_campaign_ids()[-1]
    _, served = poll(sim, base_url, engine, PollingPolicy(refresh_campaign_ids=frozenset({oldest})))
    assert served["get"] == 1
    assert scalar(
        engine,
        "select refresh_requested_at is null from sms.campaign_poll_state where campaign_id = :c",
        c=oldest,
    )
    _, served = poll(sim, base_url, engine, PollingPolicy(nixflex_page_size=5, refresh_all=True))
    assert served["get"] == 30 and served["list"] >= 6


def test_rate_limiter_waits_for_the_window_the_vendor_names() -> None:
    limiter = RateLimiter(None)
    limiter.acquire()
    reset = int(datetime.now(UTC).timestamp()) + 2
    limiter.release(
        200,
        {"x-ratelimit-limit": "600", "x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
    )
    started = datetime.now(UTC)
    limiter.acquire()
    waited = (datetime.now(UTC) - started).total_seconds()
    assert waited >= reset - started.timestamp() - 0.05
    assert limiter.limit == 600


def test_rate_limiter_paces_a_burst_under_the_limit() -> None:
    limiter = RateLimiter(120, window=1.0, headroom=0.0)  # 120 a second: one each 8.3 ms
    started = datetime.now(UTC)
    for _ in range(61):
        limiter.acquire()
        limiter.release(200, {})
    took = (datetime.now(UTC) - started).total_seconds()
    assert took >= 60 / 120 * 0.95  # never faster than the limit


def test_two_accounts_load_side_by_side_and_a_refused_one_stops_nothing(
    engine: Engine,
    simulator,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    brand_key = "nxf_brand:nxfs_brand_secret"
    brand_ids = simulator.sim.add_nixflex_account(brand_key, campaigns=4, seed=99)
    brand_sf = simulator.sim.add_smsfactor_account("sf_brand_token", campaigns=3, seed=98)
    monkeypatch.setenv("NIXFLEX_API_KEY_BRAND", brand_key)
    monkeypatch.setenv("SMSFACTOR_API_TOKEN_BRAND", "sf_brand_token")
    monkeypatch.setenv("NIXFLEX_API_KEY_BROKEN", "nxf_nope:nxfs_refused")

    result = run_full_sync()

    accounts = {
        (r["provider"], r["campaign_id"]): r["account"]
        for r in rows(engine, "select provider, campaign_id, account from sms.dim_campaign")
    }
    assert {accounts[("nixflex", c)] for c in brand_ids} == {"brand"}
    assert {accounts[("smsfactor", c)] for c in brand_sf} == {"brand"}
    default_ids = simulator.sim.nixflex_campaign_ids()
    assert {accounts[("nixflex", c)] for c in default_ids} == {"default"}
    answered = checks_by_name(result)["nixflex_api_answered"]
    assert not answered.passed and answered.severity.value == "ERROR"
    assert "nixflex[broken]" in (answered.description or "")
    assert "nxfs_refused" not in str(answered.metadata)
    # The other accounts' checks and facts are whole.
    assert checks_by_name(result)["nixflex_counts_match_recipients"].passed
    assert scalar(engine, "select count(*) from sms.account_poll_state") == 5


def test_force_refresh_job_refetches_settled_campaigns(
    engine: Engine,
    simulator,  # type: ignore[no-untyped-def]
) -> None:
    assert run_full_sync().success
    simulator.clock.advance(timedelta(days=5))
    assert run_full_sync().success  # the last in-flight campaigns are read once more, final
    before = simulator.sim.calls[("nixflex", "get")]
    assert run_full_sync().success
    assert simulator.sim.calls[("nixflex", "get")] - before == 0  # settled, or fetched a moment ago

    before = simulator.sim.calls[("nixflex", "get")]
    assert run_full_sync("force_refresh").success
    assert simulator.sim.calls[("nixflex", "get")] - before == len(
        simulator.sim.nixflex_campaign_ids()
    )
