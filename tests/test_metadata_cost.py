"""What a materialization shows in the UI costs the same at any size: exact counts where a
count is cheap, the planner's estimate (said so) where it is not, and previews of the
campaigns loaded last, found by index."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from pipelines.defs.sms_assets import FACT_RECIPIENT_DELIVERY, table_metadata
from pipelines.warehouse import introspect
from tests.conftest import SimulatorHandle
from tests.sync_helpers import rows, run_full_sync, scalar


def test_small_tables_get_exact_counts_and_previews_of_the_latest_campaigns(
    engine: Engine, simulator: SimulatorHandle
) -> None:
    assert run_full_sync().success
    meta = table_metadata(engine, FACT_RECIPIENT_DELIVERY)
    assert meta["dagster/row_count"] == scalar(
        engine, "select count(*) from sms.fact_recipient_delivery"
    )
    assert meta["row_count_is_estimate"] is False
    # The recipients shown are those of the Nixflex campaigns loaded last (five at most).
    newest = rows(
        engine,
        "select campaign_id from sms.campaign_poll_state where provider = 'nixflex' "
        "order by last_loaded_at desc, campaign_id limit 5",
    )
    shown = meta["preview"].value.records  # type: ignore[attr-defined]
    assert shown and {r.data["campaign_id"] for r in shown} <= {
        str(r["campaign_id"]) for r in newest
    }
    assert not {"phone", "rendered_message", "variables"} & set(shown[0].data)


def test_a_count_that_would_scan_too_much_is_the_planners_estimate(
    engine: Engine, simulator: SimulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_full_sync().success
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("analyze sms.recipient_delivery"))
    truth = int(scalar(engine, "select count(*) from sms.recipient_delivery"))
    monkeypatch.setattr(introspect, "EXACT_COUNT_MAX_COST", 0.0)
    counted = introspect.row_count(engine, "sms", "fact_recipient_delivery")
    assert counted.estimated
    assert abs(counted.rows - truth) <= truth * 0.1
