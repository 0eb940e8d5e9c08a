"""Fetch from the vendors and land every answer raw (plain Python; the assets call this).

A full sync: Nixflex list pages to the end, then each listed campaign's detail; SMSFactor
history pages to the end (the history carries every counter, so no per-campaign call is
needed). Every answer is landed as it arrives, error answers included, so nothing fetched
is lost. A bad credential stops that vendor at once; a campaign that vanished or keeps
failing is recorded and the sync goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine

from pipelines.vendors.errors import VendorAuthError, VendorError
from pipelines.vendors.nixflex_client import NixflexClient
from pipelines.vendors.raw import RawResponse
from pipelines.vendors.smsfactor_client import SmsFactorClient
from pipelines.warehouse.landing import land_now

log = logging.getLogger(__name__)
Progress = Callable[[str], None]


@dataclass
class FetchReport:
    """What one vendor fetch did. ``fatal`` is set when the vendor could not be read at all."""

    provider: str
    responses_landed: int = 0
    campaigns_listed: int = 0
    campaigns_fetched: int = 0
    problems: list[str] = field(default_factory=list)
    fatal: str | None = None

    @property
    def ok(self) -> bool:
        return self.fatal is None and not self.problems


class _Lander:
    def __init__(self, engine: Engine, run_id: str | None, report: FetchReport) -> None:
        self._engine, self._run_id, self._report = engine, run_id, report

    def __call__(self, raw: RawResponse | None) -> None:
        if raw is not None:
            land_now(self._engine, raw, self._run_id)
            self._report.responses_landed += 1


def fetch_nixflex(
    client: NixflexClient,
    engine: Engine,
    *,
    run_id: str | None = None,
    progress: Progress = log.info,
) -> FetchReport:
    """List every campaign, then land each one's detail."""
    report = FetchReport("nixflex")
    land = _Lander(engine, run_id, report)
    campaign_ids: list[str] = []
    try:
        for page in client.list_pages():
            land(page.raw)
            campaign_ids.extend(s.campaign_id for s in page.summaries)
            if page.problem:
                report.problems.append(
                    f"list page offset={page.raw.params.get('offset')}: {page.problem}"
                )
    except VendorError as exc:
        land(exc.response)
        if isinstance(exc, VendorAuthError) or not campaign_ids:
            report.fatal = str(exc)
            return report
        report.problems.append(f"listing stopped early: {exc}")
    unique_ids = list(dict.fromkeys(campaign_ids))
    report.campaigns_listed = len(unique_ids)
    progress(f"nixflex: {len(unique_ids)} campaigns listed; fetching details")
    for done, campaign_id in enumerate(unique_ids, start=1):
        try:
            land(client.get_campaign(campaign_id))
            report.campaigns_fetched += 1
        except VendorAuthError as exc:
            land(exc.response)
            report.fatal = str(exc)
            return report
        except VendorError as exc:
            land(exc.response)
            report.problems.append(f"campaign {campaign_id}: {exc}")
        if done % 25 == 0 or done == len(unique_ids):
            progress(f"nixflex: {done}/{len(unique_ids)} campaign details fetched")
    return report


def fetch_smsfactor(
    client: SmsFactorClient,
    engine: Engine,
    *,
    run_id: str | None = None,
    progress: Progress = log.info,
) -> FetchReport:
    """Land the campaign history, page after page."""
    report = FetchReport("smsfactor")
    land = _Lander(engine, run_id, report)
    try:
        for page in client.history_pages():
            land(page.raw)
            report.campaigns_listed += len(page.campaigns)
            if page.problem:
                report.problems.append(
                    f"history page start={page.raw.params.get('start')}: {page.problem}"
                )
            progress(f"smsfactor: {report.campaigns_listed} campaigns read from the history")
    except VendorError as exc:
        land(exc.response)
        report.fatal = str(exc)
    report.campaigns_fetched = report.campaigns_listed
    return report
