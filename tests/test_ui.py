"""The Dagster UI as a data engineer meets it, after a real sync: the webserver on a local
port with this project's workspace, asked through its GraphQL API that every asset and
check is loaded, and driven in headless Chromium (Debian's; playwright downloads nothing)
to the asset graph, a checks page and the delivery mart. Screenshots are saved under
``.data/screenshots/``."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from pipelines.cli import run_sync
from pipelines.defs.checks import SQL_CHECKS
from pipelines.defs.view_assets import VIEW_KEYS
from tests.conftest import SimulatorHandle
from tests.sync_helpers import STUCK

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / ".data" / "screenshots"
CHROMIUM = shutil.which("chromium")
TABLE_ASSETS = {
    "raw/nixflex_responses",
    "raw/smsfactor_responses",
    "sms/dim_campaign",
    "sms/fact_recipient_delivery",
    "sms/fact_recipient_status_change",
    "sms/fact_campaign_counters",
    "sms/campaign_delivery",
}
# The other analyst-facing views (group marts), one per file of sql/views/.
VIEW_ASSETS = {k.to_user_string() for k in VIEW_KEYS.values()}
ASSETS = TABLE_ASSETS | VIEW_ASSETS
CHECKS = {s.name for s in SQL_CHECKS} | {
    "nixflex_api_answered",
    "smsfactor_api_answered",
    "facts_match_latest_answer",
    "delivery_rate_is_normal",
    "campaigns_are_not_stuck",
}


@dataclass
class UI:
    base_url: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def ui(
    request: pytest.FixtureRequest,
    engine: object,
    simulator: SimulatorHandle,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[UI]:
    """A sync recorded in a Dagster instance of the test's own, and the webserver on it."""
    if "server" in request.node.name:
        pytest.skip("the UI does not depend on the warehouse server: tested on the embedded one")
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    assert run_sync().run_ok  # what the UI will show: a run, materializations, check results
    port = _free_port()
    command = [str(Path(sys.executable).parent / "dagster-webserver"), "-w", "workspace.yaml"]
    web = subprocess.Popen(
        [*command, "-h", "127.0.0.1", "-p", str(port)],
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_loaded(base_url)
        yield UI(base_url)
    finally:
        web.terminate()
        web.wait(timeout=20)


def _graphql(base_url: str, query: str) -> dict:
    answer = httpx.post(f"{base_url}/graphql", json={"query": query}, timeout=30)
    answer.raise_for_status()
    return answer.json()["data"]


def _wait_until_loaded(base_url: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    query = "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"
    while time.monotonic() < deadline:
        try:
            entries = _graphql(base_url, query)["workspaceOrError"]["locationEntries"]
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"the webserver did not load the code location in {seconds} s")


def test_graphql_lists_every_asset_and_check_with_its_latest_result(ui: UI) -> None:
    data = _graphql(
        ui.base_url,
        """{ assetNodes {
              assetKey { path } groupName kinds
              assetChecksOrError { ... on AssetChecks { checks {
                  name executionForLatestMaterialization { status } } } }
        } }""",
    )
    nodes = {"/".join(n["assetKey"]["path"]): n for n in data["assetNodes"]}
    assert set(nodes) == ASSETS
    assert {nodes[a]["groupName"] for a in TABLE_ASSETS} == {"nixflex", "smsfactor", "sms"}
    assert {nodes[a]["groupName"] for a in VIEW_ASSETS} == {"marts"}
    assert all("postgres" in nodes[a]["kinds"] for a in ASSETS)
    checks = {
        c["name"]: c for n in nodes.values() for c in n["assetChecksOrError"].get("checks", [])
    }
    assert set(checks) == CHECKS
    ran = {n: c["executionForLatestMaterialization"] for n, c in checks.items()}
    assert all(r is not None for r in ran.values()), ran
    # Each ran and passed, but the stuck check: the simulator holds a campaign in moderation.
    failed = {n for n, r in ran.items() if r["status"] != "SUCCEEDED"}
    assert failed == {STUCK}, ran
    assert ran[STUCK]["status"] == "FAILED"


def test_each_table_shows_a_preview_without_personal_data(ui: UI) -> None:
    data = _graphql(
        ui.base_url,
        """{ assetNodes { assetKey { path } assetMaterializations(limit: 1) { metadataEntries {
              label
              ... on TableMetadataEntry { table { records schema { columns { name } } } }
              ... on IntMetadataEntry { intValue }
        } } } }""",
    )
    for node in data["assetNodes"]:
        key = "/".join(node["assetKey"]["path"])
        if key not in TABLE_ASSETS or key.startswith("raw/"):
            continue  # the raw landing has no preview; views record columns and rows only
        (latest,) = node["assetMaterializations"]
        entries = {e["label"]: e for e in latest["metadataEntries"]}
        assert entries["dagster/row_count"]["intValue"] > 0
        preview = entries["preview"]["table"]
        columns = {c["name"] for c in preview["schema"]["columns"]}
        assert preview["records"] and "campaign_id" in columns
        assert not columns & {"phone", "rendered_message", "variables"}


@pytest.mark.skipif(
    CHROMIUM is None and os.environ.get("CI") != "true",
    reason="Debian's chromium is not installed (make test installs it where it may)",
)
def test_the_asset_graph_and_the_checks_page_in_a_real_browser(ui: UI) -> None:
    assert CHROMIUM, "CI needs Debian's chromium (make test installs it)"
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=30_000)  # the first page load builds the asset graph

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    flags = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=flags)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.set_default_timeout(30_000)

        # The sms group's asset graph: its assets and the raw ones feeding them.
        page.goto(f"{ui.base_url}/locations/sms_warehouse/asset-groups/sms")
        skip = page.get_by_role("button", name="Skip")  # Dagster's one-time community dialog
        skip.click()
        for asset in ("dim_campaign", "campaign_delivery", "fact_recipient_delivery"):
            expect(page.get_by_text(asset, exact=True).first).to_be_visible()
        # dim_campaign's checks, all passed
        expect(page.get_by_text(re.compile(r"^(\d+) / \1 Passed$")).first).to_be_visible()
        page.screenshot(path=SCREENSHOTS / "asset-graph-sms.png")

        # A checks page: each check named (long names are shown middle-truncated: the full
        # name is in the page), each passed in the sync.
        page.goto(f"{ui.base_url}/assets/sms/fact_recipient_delivery?view=checks")
        on_recipients = [
            c.name for c in SQL_CHECKS if c.asset.path[-1] == "fact_recipient_delivery"
        ]
        expect(page.get_by_text(f"Checks ({len(on_recipients)})")).to_be_visible()
        for check in on_recipients:
            expect(page.get_by_text(check).first).to_be_attached()
        expect(page.get_by_text("Passed").first).to_be_visible()
        page.screenshot(path=SCREENSHOTS / "checks-fact_recipient_delivery.png")

        # The delivery mart: the delivery-rate picture in its metadata (behind the UI's
        # "[Show Markdown]" link), and its preview table.
        page.goto(f"{ui.base_url}/assets/sms/campaign_delivery")
        row = page.locator("tr", has_text="delivery_rate_by_day").first
        expect(row).to_be_visible()
        expect(page.locator("tr", has_text="preview").first).to_be_visible()
        row.get_by_text("[Show Markdown]").click()
        chart = page.locator("img[alt='delivery rate by day and vendor']").first
        expect(chart).to_be_visible()
        assert (chart.get_attribute("src") or "").startswith("data:image/svg+xml;base64,")
        page.screenshot(path=SCREENSHOTS / "campaign_delivery-chart.png")
        browser.close()
    for name in ("asset-graph-sms", "checks-fact_recipient_delivery", "campaign_delivery-chart"):
        assert (SCREENSHOTS / f"{name}.png").stat().st_size > 10_000
