"""Alerts, end to end: real syncs over the simulator record real check evaluations and runs
in a real Dagster instance (SQLite under a temporary DAGSTER_HOME), incidents live in the
real warehouse, and every message goes over HTTP to a local receiver (``http.server`` in a
thread) that answers 200, 500, or hangs.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import Engine, text

from pipelines import clock as pipeline_clock
from pipelines.alerts.__main__ import main as alerts_main
from pipelines.alerts.delivery import destinations
from pipelines.alerts.evaluate import evaluate, secrets_of
from pipelines.alerts.incidents import Incident
from pipelines.alerts.messages import render
from pipelines.alerts.preview import would_send
from pipelines.alerts.settings import AlertSettings
from pipelines.definitions import build_definitions
from pipelines.defs.alerts import send_alerts
from pipelines.defs.resources import WarehouseResource
from pipelines.demo_history import poll_history
from pipelines.simulator import NIXFLEX_DEMO_KEY, SMSFACTOR_DEMO_TOKEN, SimClock, Simulator, serve
from pipelines.simulator.rhythm import add_daily_rhythm
from pipelines.warehouse.engine import get_engine
from tests.conftest import T0, embedded_only

UI = "http://dagster.example.test:3000"
URL_PASSWORD = "pw_secret_98765"
URL_TOKEN = "path_token_abcdef"


class Receiver:
    """An HTTP server on 127.0.0.1 that records every JSON body POSTed to it and answers
    ``status`` (after ``delay`` seconds)."""

    def __init__(self, status: int = 200, delay: float = 0.0) -> None:
        self.status, self.delay, self.bodies = status, delay, []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                time.sleep(receiver.delay)
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, secret: bool = False) -> str:
        port = self.server.server_address[1]
        auth = f"alerts:{URL_PASSWORD}@" if secret else ""
        return f"http://{auth}127.0.0.1:{port}/hook/{URL_TOKEN if secret else 'plain'}"

    def events(self) -> list[str]:
        return [b["event"] for b in self.bodies]


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    made: list[Receiver] = []
    yield made
    for receiver in made:
        receiver.server.shutdown()
        receiver.server.server_close()


@pytest.fixture
def alert_state(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """The warehouse with no incident; the UI links point at ``UI``."""
    with engine.begin() as conn:
        conn.execute(text("truncate meta.alert_incident restart identity"))
    monkeypatch.setenv("DAGSTER_UI_URL", UI)
    return engine


def _check_keys() -> set[dg.AssetCheckKey]:
    return build_definitions().resolve_asset_graph().asset_check_keys


def _run(instance: dg.DagsterInstance, job: str = "full_sync") -> dg.ExecuteInProcessResult:
    job_def = build_definitions().resolve_job_def(job)
    return job_def.execute_in_process(instance=instance, raise_on_error=False)


def _incidents(engine: Engine) -> list[dict]:
    with engine.connect() as conn:
        sql = "select * from meta.alert_incident order by incident_id"
        return [dict(r) for r in conn.execute(text(sql)).mappings()]


def _miscounting_simulator() -> tuple[Simulator, str]:
    """The simulator of tests/test_end_to_end.py whose Nixflex list miscounts one campaign
    (one with delivered and failed recipients), so nixflex_counts_match_recipients fails."""
    probe = Simulator(
        seed=7, nixflex_campaigns=6, smsfactor_campaigns=2, clock=SimClock(start=T0), anchor=T0
    )
    victim = probe.nixflex_campaign_ids()[-1]
    sim = Simulator(
        seed=7,
        nixflex_campaigns=6,
        smsfactor_campaigns=2,
        clock=SimClock(start=T0),
        anchor=T0,
        miscounted_nixflex=[victim],
    )
    return sim, victim


def _point_at(monkeypatch: pytest.MonkeyPatch, base_url: str) -> None:
    monkeypatch.setenv("NIXFLEX_BASE_URL", f"{base_url}/nixflex/v1")
    monkeypatch.setenv("NIXFLEX_API_KEY", NIXFLEX_DEMO_KEY)
    monkeypatch.setenv("SMSFACTOR_BASE_URL", f"{base_url}/smsfactor")
    monkeypatch.setenv("SMSFACTOR_API_TOKEN", SMSFACTOR_DEMO_TOKEN)


def _assert_no_secret(texts: list[str]) -> None:
    everything = "\n".join(texts)
    for secret in (NIXFLEX_DEMO_KEY, SMSFACTOR_DEMO_TOKEN, URL_PASSWORD, URL_TOKEN):
        assert secret not in everything


@pytest.mark.slow
def test_failing_error_check_alerts_once_and_resolves_once(
    alert_state: Engine,
    receivers: list[Receiver],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    receiver = Receiver()
    receivers.append(receiver)
    monkeypatch.setenv("ALERT_URLS", receiver.url(secret=True))
    settings, keys = AlertSettings.from_env(), _check_keys()
    sim, victim = _miscounting_simulator()
    with serve(sim) as base_url:
        _point_at(monkeypatch, base_url)
        with dg.DagsterInstance.local_temp(str(tmp_path)) as instance:
            _run(instance)
            first = evaluate(alert_state, instance, keys, settings)
            evaluate(alert_state, instance, keys, settings)
        assert [b["subject"] for b in receiver.bodies] == [
            "sms/fact_recipient_delivery:nixflex_counts_match_recipients"
        ]
        opened = receiver.bodies[0]
        assert opened["event"] == "opened" and first.opened == 1
        assert opened["campaigns"] == [f"nixflex:{victim}"]
        assert f"nixflex:{victim}" in opened["message"]
        assert opened["links"]["run"].startswith(f"{UI}/runs/")
        opened_at_utc = _incidents(alert_state)[0]["opened_at"].astimezone(UTC)
        assert f"Since: {opened_at_utc:%Y-%m-%d %H:%M} UTC" in opened["message"]
        assert "checkDetail=nixflex_counts_match_recipients" in opened["links"]["check"]

        # A restart: a new instance object on the same DAGSTER_HOME, a new engine on the same
        # warehouse. Nothing is repeated; the reminder comes a day after the alert, once.
        get_engine(str(alert_state.url.render_as_string(hide_password=False))).dispose()
        later = opened_at = _incidents(alert_state)[0]["last_alerted_at"]
        with dg.DagsterInstance.local_temp(str(tmp_path)) as instance:
            for hours in (0, 23, 25, 26):
                later = opened_at + timedelta(hours=hours)
                evaluate(alert_state, instance, keys, settings, now=later)
            assert receiver.events() == ["opened", "reminder"]

            # The vendor counts right again and a refresh re-reads every campaign: resolved.
            sim.miscounted_nixflex = frozenset()
            assert _run(instance, "force_refresh").success
            for _ in range(2):
                evaluate(alert_state, instance, keys, settings, now=later)
    assert receiver.events() == ["opened", "reminder", "resolved"]
    resolved = receiver.bodies[-1]
    assert resolved["incident_id"] == opened["incident_id"]
    assert resolved["resolution"].startswith("passed at")
    [incident] = _incidents(alert_state)
    assert incident["resolved_at"] is not None and incident["alerts_sent"] == 2
    _assert_no_secret([json.dumps(b) for b in receiver.bodies] + [caplog.text])


@pytest.mark.slow
def test_failed_sync_run_alerts_even_when_destinations_fail_or_hang(
    alert_state: Engine,
    receivers: list[Receiver],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    good, broken, hanging = Receiver(), Receiver(status=500), Receiver(delay=5)
    receivers += [good, broken, hanging]
    urls = [good.url(), broken.url(secret=True), hanging.url(secret=True)]
    monkeypatch.setenv("ALERT_URLS", ",".join(urls))
    monkeypatch.setenv("ALERT_TIMEOUT_SECONDS", "0.5")
    monkeypatch.setenv("ALERT_ATTEMPTS", "2")
    settings = AlertSettings.from_env()
    with dg.DagsterInstance.local_temp(str(tmp_path)) as instance:
        # A sync whose warehouse does not answer fails (a real failed run of full_sync).
        monkeypatch.setenv("WAREHOUSE_URL", "postgresql+psycopg://nobody@127.0.0.1:9/none")
        assert not _run(instance).success
        started = time.monotonic()
        report = evaluate(alert_state, instance, _check_keys(), settings)
        took = time.monotonic() - started
    assert took < 10
    assert good.events() == ["opened"]
    assert good.bodies[0]["signal"] == "run_failed" and good.bodies[0]["subject"] == "full_sync"
    assert "cannot be reached" in good.bodies[0]["description"]
    assert len(broken.bodies) == 2 and len(hanging.bodies) == 2  # retried, bounded
    assert set(report.failures()) == {
        f"http://127.0.0.1:{broken.server.server_address[1]}/…: HTTP 500 (2 attempts)",
        f"http://127.0.0.1:{hanging.server.server_address[1]}/…: no answer within 0.5 s "
        "(2 attempts)",
    }
    assert "HTTP 500" in caplog.text and "no answer within 0.5 s" in caplog.text
    [incident] = _incidents(alert_state)
    assert incident["alerts_sent"] == 1  # one destination took it: not due again
    _assert_no_secret([json.dumps(b) for b in good.bodies] + [caplog.text])


def test_sensor_says_when_alerts_are_not_configured(
    alert_state: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("ALERT_URLS", raising=False)
    defs = build_definitions()
    warehouse = WarehouseResource(url=str(alert_state.url.render_as_string(hide_password=False)))
    with dg.DagsterInstance.local_temp(str(tmp_path)) as instance:
        context = dg.build_sensor_context(
            instance=instance, definitions=defs, resources={"warehouse": warehouse}
        )
        result = send_alerts(context)
    assert result.skip_message == "alerts are not configured: ALERT_URLS is not set"
    assert _incidents(alert_state) == []


def test_sensor_reports_nothing_due_on_a_quiet_instance(
    alert_state: Engine, receivers: list[Receiver], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    receiver = Receiver()
    receivers.append(receiver)
    monkeypatch.setenv("ALERT_URLS", receiver.url())
    defs = build_definitions()
    warehouse = WarehouseResource(url=str(alert_state.url.render_as_string(hide_password=False)))
    with dg.DagsterInstance.local_temp(str(tmp_path)) as instance:
        context = dg.build_sensor_context(
            instance=instance, definitions=defs, resources={"warehouse": warehouse}
        )
        result = send_alerts(context)
    assert result.skip_message == "0 open incident(s); nothing due"
    assert receiver.bodies == []


def test_test_command_says_which_destination_answered(
    receivers: list[Receiver], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    good, broken, via_apprise = Receiver(), Receiver(status=500), Receiver()
    receivers += [good, broken, via_apprise]
    apprise_port = via_apprise.server.server_address[1]
    urls = [good.url(), broken.url(secret=True), f"json://127.0.0.1:{apprise_port}/apprise"]
    monkeypatch.setenv("ALERT_URLS", ", ".join(urls))
    monkeypatch.setenv("ALERT_ATTEMPTS", "1")
    assert alerts_main(["--test"]) == 1
    out = capsys.readouterr().out
    good_port, broken_port = good.server.server_address[1], broken.server.server_address[1]
    assert f"OK    http://127.0.0.1:{good_port}/…  accepted" in out
    assert f"FAIL  http://127.0.0.1:{broken_port}/…  HTTP 500 (1 attempt)" in out
    assert f"OK    json://127.0.0.1:{apprise_port}/apprise" in out
    assert good.events() == ["test"] and broken.events() == ["test"]
    # Apprise's own JSON body: its title and message.
    [body] = via_apprise.bodies
    assert body["title"] == "[SMS warehouse] test message"
    assert "Nothing is wrong" in body["message"]
    _assert_no_secret([out])


def test_code_location_runs_the_sensor_every_minute_by_default() -> None:
    sensor = build_definitions().get_repository_def().get_sensor_def("send_alerts")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert sensor.minimum_interval_seconds == 60


def test_a_slack_webhook_address_goes_to_apprise_with_its_token_masked() -> None:
    token = "abcdefghijklmnopqrstuvwx"
    slack = f"https://hooks.slack.com/services/T0001/B0002/{token}"
    other = f"https://hooks.example.com/incoming/{token}"
    settings = AlertSettings(urls=(slack, other))
    [to_slack, to_webhook] = destinations(settings)
    assert not to_slack.webhook and to_slack.shown.startswith("slack://")
    assert to_webhook.webhook and to_webhook.shown == "https://hooks.example.com/…"
    assert token not in to_slack.shown + to_webhook.shown


def _drop_check(failing: dict[str, dict[str, float]]) -> dg.AssetChecksDefinition:
    """A WARN check shaped as a per-segment detection check would be: ``segments`` maps each
    failing segment to its figures."""

    @dg.asset_check(asset="sms_delivery_probe", name="delivery_rate_is_normal")
    def delivery_rate_is_normal() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(
            passed=not failing,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"segments": dg.MetadataValue.json(failing)} if failing else {},
        )

    return delivery_rate_is_normal


def test_listed_warn_check_opens_one_incident_per_segment(
    alert_state: Engine, receivers: list[Receiver], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    receiver = Receiver()
    receivers.append(receiver)
    monkeypatch.setenv("ALERT_URLS", receiver.url())
    monkeypatch.setenv("ALERT_WARN_CHECKS", "delivery_rate_is_normal")
    settings = AlertSettings.from_env()

    @dg.asset(name="sms_delivery_probe")
    def probe() -> None:
        return None

    key = dg.AssetCheckKey(dg.AssetKey("sms_delivery_probe"), "delivery_rate_is_normal")
    rounds = [
        {"nixflex/default/ACME": {"rate": 0.61, "baseline": 0.93}, "smsfactor/default/SHOP": {}},
        {"nixflex/default/ACME": {"rate": 0.64, "baseline": 0.93}},
    ]
    with dg.DagsterInstance.local_temp(str(tmp_path)) as instance:
        for failing in rounds:
            dg.materialize([probe, _drop_check(failing)], instance=instance)
            evaluate(alert_state, instance, [key], settings)
    assert [(b["event"], b["segment"]) for b in receiver.bodies] == [
        ("opened", "nixflex/default/ACME"),
        ("opened", "smsfactor/default/SHOP"),
        ("resolved", "smsfactor/default/SHOP"),
    ]
    assert "no longer names this segment" in receiver.bodies[2]["resolution"]
    assert receiver.bodies[0]["signal"] == "check_warned"
    assert receiver.bodies[0]["figures"]["rate"] == 0.61
    assert "Segment: nixflex/default/ACME" in receiver.bodies[0]["message"]


@pytest.mark.slow
def test_stale_data_alerts_by_default_and_other_warn_checks_do_not(
    alert_state: Engine, receivers: list[Receiver], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    receiver = Receiver()
    receivers.append(receiver)
    monkeypatch.setenv("ALERT_URLS", receiver.url())
    # The last sync ran two hours ago, and none since: no vendor answered for two hours.
    two_hours_ago = T0 - timedelta(hours=2)
    clock = SimClock(start=two_hours_ago)
    monkeypatch.setattr(pipeline_clock, "utcnow", clock.now)
    sim = Simulator(
        seed=7, nixflex_campaigns=3, smsfactor_campaigns=3, clock=clock, anchor=two_hours_ago
    )
    with serve(sim) as base_url:
        _point_at(monkeypatch, base_url)
        with dg.DagsterInstance.local_temp(str(tmp_path)) as instance:
            result = _run(instance)
            evaluate(alert_state, instance, _check_keys(), AlertSettings.from_env())
    failed = {
        (e.check_name, e.severity.value)
        for e in result.get_asset_check_evaluations()
        if not e.passed
    }
    # data_is_fresh failed, and another WARN check with it (a campaign read too long ago).
    assert ("data_is_fresh", "WARN") in failed and len(failed) > 1
    assert {severity for _, severity in failed} == {"WARN"}
    [body] = receiver.bodies
    assert (body["event"], body["signal"]) == ("opened", "stale")
    assert body["subject"] == "sms/dim_campaign:data_is_fresh"
    assert "Named (2): nixflex, smsfactor" in body["message"]


def test_message_shows_no_phone_number_nor_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHONE_HASH_SALT", "salt_do_not_show_123")
    at = T0
    incident = Incident(
        incident_id=3,
        signal="check_failed",
        subject="sms/fact_recipient_delivery:nixflex_recipient_is_unique",
        segment="",
        opened_at=at,
        detected_at=at,
        details={
            "headline": "ERROR check nixflex_recipient_is_unique failed",
            "description": "+33612345678 listed twice (salt_do_not_show_123)",
            "campaigns": ["nixflex:c1"],
            "figures": {"offending_rows": 1},
            "links": {},
        },
        alerts_sent=0,
        last_alerted_at=None,
        resolved_at=None,
        resolution=None,
        resolution_sent_at=None,
    )
    settings = AlertSettings(urls=(f"https://hooks.example.com/in/{URL_TOKEN}",))
    message = render(incident, "opened", at, secrets_of(settings))
    shown = json.dumps(message.payload) + message.title + message.body
    assert "+33612345678" not in shown and "salt_do_not_show_123" not in shown
    assert "[redacted] listed twice ([redacted])" in message.body


@pytest.mark.slow
def test_delivery_drop_alerts_once_while_it_lasts_and_resolves_once(
    request: pytest.FixtureRequest,
    alert_state: Engine,
    receivers: list[Receiver],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Steady campaigns every 8 h per sender, synced hour by hour for a day and a half; then
    one sender's campaign loses 30 points of delivery (carrier filtering) and the next one is
    normal again. Real full_sync runs over the simulator, real alert evaluations after each,
    to a real receiver: one "opened" naming the sender and why, nothing while it lasts, one
    "resolved" once a normal campaign of that sender is judged."""
    embedded_only(request, "incidents and the detection SQL run on both backends elsewhere")
    caplog.set_level(logging.DEBUG)
    receiver = Receiver()
    receivers.append(receiver)
    monkeypatch.setenv("ALERT_URLS", receiver.url(secret=True))
    monkeypatch.setenv("DELIVERY_BASELINE_DAYS", "1")
    # The runs' simulated hours are behind the warehouse's own now(): not stale data.
    monkeypatch.setenv("ALERT_ON_STALE", "no")
    settings, keys = AlertSettings.from_env(), _check_keys()
    t0 = T0.replace(minute=0, second=0, microsecond=0)  # the dropped campaign goes out
    history = t0 - timedelta(hours=40)  # the rhythm's slots fall on t0 every 8 h
    clock = SimClock(start=history)
    monkeypatch.setattr(pipeline_clock, "utcnow", clock.now)
    sim = Simulator(
        seed=11,
        nixflex_campaigns=0,
        smsfactor_campaigns=0,
        clock=clock,
        anchor=history,
        rate_limit=None,
    )
    sender = sim.nixflex_senders()[0]
    sim.drop_delivery(sender, 30, start=t0 - timedelta(minutes=5), end=t0 + timedelta(hours=1))
    add_daily_rhythm(sim, history, 3, every_hours=8)
    with serve(sim) as base_url:
        _point_at(monkeypatch, base_url)
        poll_history(
            alert_state, sim, base_url, history, t0 - timedelta(hours=1), timedelta(hours=1)
        )
        events_after: dict[str, list[str]] = {}
        with dg.DagsterInstance.local_temp(str(tmp_path)) as instance:
            # Before the drop, right after it, while it is in the window, once a normal
            # campaign of the sender (t0 + 8 h) is in and the dropped one has left it.
            for label, hours in (("before", -1), ("after", 1), ("during", 3), ("later", 5),
                                 ("recovered", 9), ("next", 10)):  # fmt: skip
                clock.set(t0 + timedelta(hours=hours))
                result = _run(instance)
                assert result.success
                evaluate(alert_state, instance, keys, settings)
                events_after[label] = receiver.events()
                if label == "after":  # what make demo prints for a run: the same message
                    evaluations = result.get_asset_check_evaluations()
                    previews = would_send(evaluations, result.run_id, T0, settings)
    segment = f"nixflex/default/…{sender[-4:]}"
    assert events_after["before"] == []
    assert events_after["after"] == ["opened"]
    assert events_after["during"] == events_after["later"] == ["opened"]
    assert events_after["recovered"] == events_after["next"] == ["opened", "resolved"]
    opened, resolved = receiver.bodies
    assert (opened["signal"], opened["segment"]) == ("check_warned", segment)
    assert opened["subject"] == "sms/campaign_delivery:delivery_rate_is_normal"
    figures = opened["figures"]
    assert figures["delivery_rate"] < 0.75 * figures["baseline_rate"]
    assert figures["messages"] >= 100 and figures["baseline_messages"] >= 100
    assert figures["grown_categories"].startswith("blocked_or_filtered")
    said = opened["description"]
    assert said.startswith(f"delivered {100 * figures['delivery_rate']:.1f} % of ")
    assert "failures that grew: blocked_or_filtered" in said
    assert opened["title"].endswith(f"({segment})")
    assert f"Segment: {segment}" in opened["message"]
    assert resolved["incident_id"] == opened["incident_id"]
    assert resolved["resolution"].startswith("passed at")
    [incident] = _incidents(alert_state)
    assert incident["resolved_at"] is not None and incident["alerts_sent"] == 1
    [preview] = previews
    assert (preview.title, preview.payload["description"]) == (opened["title"], said)
    _assert_no_secret([json.dumps(b) for b in receiver.bodies] + [caplog.text])
    assert sender not in json.dumps(receiver.bodies)  # a phone-number sender: last digits only
