"""Turn landed answers into the ``sms`` facts: every answer loaded ends loaded or quarantined.

Answers are read back from ``raw.vendor_response`` (never from memory), one transaction
each: the facts an answer produces and its new ``load_status`` commit together, so a crash
leaves the answer pending and the facts as they were. ``FOR UPDATE SKIP LOCKED`` lets two
loaders run at once without loading an answer twice. Which answers load in which order,
and side by side, is ``lanes``' concern.

A Nixflex campaign answer takes one of three roads: the same bytes as the answer before it
→ recorded as a poll, not read; plain recipients (the usual case) → read by the fast reader
(``nixflex_bulk``) and written with a binary COPY; anything else → the careful parser,
which can quarantine a single bad recipient. A campaign the warehouse has never held is
copied straight into the facts (its first observations are the fact rows themselves: see
docs/data-model.md, "Recipients"); any other goes through a staging table and is merged, writing
only real changes, guarded by each recipient's last observation (an older answer loaded late
moves nothing back), and the recipients the newest answer does not list are marked
missing (``missing_since``). Because the loader reads only raw, marking answers pending again and
re-running it rebuilds the facts without calling any vendor (``pipelines.warehouse.replay``).
"""

from __future__ import annotations

import gc
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, NestedTransaction, Row, text
from sqlalchemy.exc import DataError, IntegrityError

from pipelines.polling.policy import SETTLE_WINDOW
from pipelines.rules import NIXFLEX_FINAL_STATUSES, SMSFACTOR_FINAL_STATUSES
from pipelines.vendors import nixflex_bulk, nixflex_parse, smsfactor_parse
from pipelines.vendors.records import (
    NOTE_KINDS,
    UNKNOWN_FIELD,
    UNREADABLE_BODY,
    UNREADABLE_FIELD,
    VENDOR_ERROR,
    NixflexCampaign,
    Rejected,
    SmsFactorCampaign,
    Unreadable,
)
from pipelines.warehouse import bodies, quarantine, recipient_rows, sqlfiles
from pipelines.warehouse.country import countries
from pipelines.warehouse.privacy import AS_RECEIVED, Privacy

log = logging.getLogger(__name__)


# SMSFactor statuses under which `date` is a plan, not a sending time (docs/vendors.md).
_NOT_SENT_STATUSES = {"Waiting", "In moderation", "Denied"}


@dataclass
class LoadStats:
    """What one load did, for asset metadata and logs."""

    responses_loaded: int = 0
    responses_quarantined: int = 0
    responses_unchanged: int = 0  # same bytes as the last loaded answer: not re-flattened
    items_quarantined: int = 0
    items_flagged: int = 0  # notes: undocumented fields, unreadable optional ones (loaded)
    campaigns: int = 0
    recipients_seen: int = 0
    recipient_changes: int = 0
    counter_snapshots: int = 0

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def add(self, other: LoadStats) -> None:
        for name in self.as_dict():
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True)
class _Landed:
    response_id: int
    provider: str
    endpoint: str
    http_status: int
    fetched_at: datetime
    account: str
    campaign_id: str | None
    content_hash: str


def record_unchanged(engine: Engine, provider: str | None = None) -> LoadStats:
    """Record at once every pending campaign detail with the same bytes as the (loaded)
    answer before it: a poll of an unchanged campaign, nothing to read. A re-sync of
    unchanged campaigns then costs one statement instead of a transaction per answer."""
    with engine.begin() as conn:
        conn.execute(text("set local synchronous_commit = off"))  # see load_answers
        recorded = conn.execute(
            text(sqlfiles.read("load/record_unchanged_answers.sql")), {"provider": provider}
        ).scalar_one()
    return LoadStats(responses_loaded=recorded, responses_unchanged=recorded)


@dataclass(frozen=True)
class LoadOptions:
    """How answers are loaded: ``settle_window``, how long after its last message a final
    campaign still gets receipts (it sets ``settles_at``); ``privacy``, how recipients are
    written (``pipelines.warehouse.privacy``)."""

    settle_window: timedelta = SETTLE_WINDOW
    privacy: Privacy = AS_RECEIVED


def load_answers(engine: Engine, response_ids: list[int], options: LoadOptions) -> LoadStats:
    """Load these pending answers one after the other, in this order, one transaction each
    (an answer another loader holds, or has loaded meanwhile, is skipped)."""
    stats = LoadStats()
    for response_id in response_ids:
        with engine.begin() as conn:
            # Facts are derived from raw, which is landed with a synchronous commit: if the
            # server crashes within the moment (wal_writer_delay, 200 ms) before this
            # commit reaches disk, the transaction is lost whole, its answer is still
            # pending, and the next load loads it again. Not waiting for the flush makes
            # a large load ~10 % faster (bench-load).
            conn.execute(text("set local synchronous_commit = off"))
            landed = _lock_pending(conn, response_id)
            if landed is not None:
                _load_one(conn, landed, stats, options)
    return stats


def _lock_pending(conn: Connection, response_id: int) -> _Landed | None:
    """Lock one pending answer (its metadata only: the body is read once it is needed)."""
    row = conn.execute(
        text(sqlfiles.read("load/lock_pending_answer.sql")), {"id": response_id}
    ).one_or_none()
    return None if row is None else _Landed(**row._mapping)


def _unchanged_since(conn: Connection, landed: _Landed) -> int | None:
    """The earlier loaded answer with exactly the same bytes as this campaign detail, if any."""
    if landed.endpoint != "campaign.get" or not 200 <= landed.http_status < 300:
        return None
    previous = conn.execute(
        text(sqlfiles.read("load/previous_answer.sql")),
        {
            "provider": landed.provider,
            "campaign_id": landed.campaign_id,
            "endpoint": landed.endpoint,
            "fetched_at": landed.fetched_at,
            "response_id": landed.response_id,
        },
    ).one_or_none()
    if (
        previous is None
        or previous.load_status != "loaded"
        or previous.content_hash != landed.content_hash
    ):
        return None
    return int(previous.response_id)


def _mark_loaded(conn: Connection, landed: _Landed, note: str | None) -> None:
    conn.execute(
        text(sqlfiles.read("load/mark_loaded.sql")), {"id": landed.response_id, "note": note}
    )


def _load_one(conn: Connection, landed: _Landed, stats: LoadStats, options: LoadOptions) -> None:
    same_as = _unchanged_since(conn, landed)
    if same_as is not None:
        _record_unchanged_poll(conn, landed, same_as, stats)
        return
    rejected = _read_and_write_or_quarantine(conn, landed, stats, options)
    if rejected is not None:
        _mark_loaded_with_items(conn, landed, rejected, stats)


def _record_unchanged_poll(
    conn: Connection, landed: _Landed, same_as: int, stats: LoadStats
) -> None:
    """Same bytes as an answer already loaded: the facts cannot differ. Record the poll,
    skip the parse and the merge."""
    conn.execute(
        text(sqlfiles.read("load/touch_dim_campaign.sql")),
        {
            "provider": landed.provider,
            "campaign_id": landed.campaign_id,
            "observed_at": landed.fetched_at,
        },
    )
    _mark_loaded(conn, landed, f"unchanged: same bytes as answer {same_as}, not re-read")
    stats.responses_loaded += 1
    stats.responses_unchanged += 1


def _read_and_write_or_quarantine(
    conn: Connection, landed: _Landed, stats: LoadStats, options: LoadOptions
) -> list[Rejected] | None:
    """Read the answer and write its facts; the items it rejected, or None when the whole
    answer is quarantined instead (its facts rolled back)."""
    savepoint = conn.begin_nested()
    try:
        rejected = _read_and_write(conn, landed, stats, options)
    except Unreadable as exc:
        _quarantine_whole(conn, savepoint, landed, stats, exc.kind, exc.reason)
        return None
    except (DataError, IntegrityError, psycopg.DataError, psycopg.IntegrityError) as exc:
        # The warehouse refused a value (e.g. a NUL character): keep the answer, say why.
        # COPY runs on the driver's own cursor, so its errors come unwrapped by SQLAlchemy.
        cause = getattr(exc, "orig", None) or exc
        reason = f"the warehouse refused this answer: {str(cause).splitlines()[0]}"
        _quarantine_whole(conn, savepoint, landed, stats, "rejected_by_warehouse", reason)
        return None
    except _READER_FAILURES as exc:
        # The readers turn bad input into Unreadable or rejected items; anything else they
        # raise on an answer is a reader bug that this answer shows. Keep the answer (a
        # replay applies the fix) and let the rest of the load go on.
        reason = f"the reader failed on this answer: {type(exc).__name__}: {exc}"[:2000]
        _quarantine_whole(conn, savepoint, landed, stats, READER_ERROR, reason)
        return None
    savepoint.commit()
    return rejected


def _quarantine_whole(
    conn: Connection,
    savepoint: NestedTransaction,
    landed: _Landed,
    stats: LoadStats,
    kind: str,
    reason: str,
) -> None:
    """Roll back what the answer wrote and quarantine the answer, saying why."""
    savepoint.rollback()
    quarantine.quarantine_response(conn, landed, kind, reason)
    stats.responses_quarantined += 1


def _mark_loaded_with_items(
    conn: Connection, landed: _Landed, rejected: list[Rejected], stats: LoadStats
) -> None:
    """Quarantine the rejected items and mark the answer loaded, its note saying what was
    quarantined or noted."""
    quarantine.quarantine_items(conn, landed, rejected)
    flagged = sum(r.kind in NOTE_KINDS for r in rejected)
    stats.items_quarantined += len(rejected) - flagged
    stats.items_flagged += flagged
    said = [f"{len(rejected) - flagged} item(s) quarantined"] if len(rejected) > flagged else []
    kinds = {r.kind for r in rejected}
    said += ["undocumented fields noted (not read)"] if UNKNOWN_FIELD in kinds else []
    said += ["unreadable fields noted (loaded as NULL)"] if UNREADABLE_FIELD in kinds else []
    _mark_loaded(conn, landed, "; ".join(said) or None)
    stats.responses_loaded += 1


# What a reader may raise on odd input when it fails to refuse it cleanly (UnicodeError:
# text psycopg cannot encode; RecursionError: nesting too deep; OverflowError: times).
_READER_FAILURES = (ValueError, OverflowError, RecursionError, LookupError, UnicodeError)
READER_ERROR = "reader_error"


def _document(payload: Any, body: bytes | None, landed: _Landed) -> Any:
    if payload is not None or body is None:
        return payload
    if landed.provider == "smsfactor":
        return smsfactor_parse.decode(body)
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise Unreadable(UNREADABLE_BODY, f"body is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise Unreadable(UNREADABLE_BODY, "body is nested too deeply to read") from exc


def _read_and_write(
    conn: Connection, landed: _Landed, stats: LoadStats, options: LoadOptions
) -> list[Rejected]:
    payload, body = bodies.read_back(conn, landed.response_id)
    if (
        landed.provider == "nixflex"
        and landed.endpoint == "campaign.get"
        and 200 <= landed.http_status < 300
        and body is not None
        and _load_plain_nixflex(conn, landed, body, stats, options)
    ):
        return []
    doc = _document(payload, body, landed)
    if landed.provider == "nixflex":
        if not 200 <= landed.http_status < 300:
            err = doc.get("error") if isinstance(doc, dict) else None
            err = err if isinstance(err, dict) else {}
            raise Unreadable(
                VENDOR_ERROR,
                f"HTTP {landed.http_status} {err.get('code') or ''}: "
                f"{err.get('message') or 'error answer'}".strip(),
            )
        if landed.endpoint == "campaigns.list":
            # List pages feed discovery only; dim rows come from the detail answer.
            listed = nixflex_parse.parse_list(doc)
            return listed.rejected + listed.notes
        campaign = nixflex_parse.parse_campaign(doc)
        _write_nixflex(conn, campaign, landed, stats, options)
        return [*campaign.rejected, *campaign.notes]
    if not isinstance(doc, dict):
        raise Unreadable("unknown_shape", f"expected an object, got {type(doc).__name__}")
    batch = smsfactor_parse.parse_campaigns(doc)
    for campaign in batch.items:
        _write_smsfactor(conn, campaign, landed, stats, options.settle_window)
    return batch.rejected + batch.notes


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a campaign's rows are built and copied: they are
    thousands of new tuples of strings, which cannot form cycles, and each few hundred of
    them would otherwise start a collection (in a large process such as Dagster's, now and
    then one over the whole heap)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _load_plain_nixflex(
    conn: Connection, landed: _Landed, body: bytes, stats: LoadStats, options: LoadOptions
) -> bool:
    """Load a plain campaign answer with the fast reader; False when the answer is not
    plain, or Postgres refuses a value, so that the careful parser takes it."""
    with _gc_paused():
        bulk = nixflex_bulk.read(body)
        if bulk is None:
            return False
        recipients = recipient_rows.of_bulk(bulk, landed.fetched_at, options.privacy)
        campaign = nixflex_parse.parse_campaign({**bulk.header, "recipients": []})
        savepoint = conn.begin_nested()
        try:
            _, in_facts = _copy_recipients(conn, bulk.campaign_id, recipients, landed.fetched_at)
        except (psycopg.DataError, psycopg.IntegrityError):  # e.g. a NUL character in a text
            savepoint.rollback()
            return False
    savepoint.commit()
    _record_nixflex_answer(
        conn, campaign, landed, bulk.summary, stats, options.settle_window, in_facts
    )
    return True


def _write_nixflex(
    conn: Connection,
    c: NixflexCampaign,
    landed: _Landed,
    stats: LoadStats,
    options: LoadOptions,
) -> None:
    """Load a campaign the careful parser read (an answer that is not plain): the same
    road as a plain answer, from the parsed records."""
    recipients = recipient_rows.of_records(c, landed.fetched_at, options.privacy)
    rows, in_facts = _copy_recipients(conn, c.campaign_id, recipients, landed.fetched_at)
    summary = recipient_rows.summarize(rows)
    _record_nixflex_answer(conn, c, landed, summary, stats, options.settle_window, in_facts)


def _record_nixflex_answer(
    conn: Connection,
    campaign: NixflexCampaign,
    landed: _Landed,
    recipients: nixflex_bulk.Summary,
    stats: LoadStats,
    settle_window: timedelta,
    in_facts: bool,
) -> None:
    """The facts (already copied in when ``in_facts``, else merged from the staging table:
    only real changes are written, and the recipients this answer does not list are
    marked missing), the dim row and the settlement."""
    changed = recipients.recipients if in_facts else _merge_staged(conn, campaign, landed)
    refresh_aggregates(conn, "nixflex", campaign.campaign_id)
    stats.recipients_seen += recipients.recipients
    stats.recipient_changes += changed
    _upsert_nixflex_dim(conn, campaign, landed, recipients.first_sent)
    stats.campaigns += 1
    # Final: the vendor says so and no recipient is still pending (or undocumented).
    final = campaign.status in NIXFLEX_FINAL_STATUSES and recipients.all_done
    last_sent = recipients.last_sent or campaign.scheduled_at or campaign.created_at
    _settle(
        conn,
        "nixflex",
        campaign.campaign_id,
        campaign.created_at,
        landed,
        final,
        last_sent,
        changed,
        settle_window,
    )


def _merge_staged(conn: Connection, campaign: NixflexCampaign, landed: _Landed) -> int:
    """Merge the staged recipients of one answer, before its dim row moves: the campaign's
    latest answer until now (``sms.dim_campaign.last_polled_at``) tells whether this one is
    newer than what each recipient's row says. Returns how many changes were written."""
    params = {
        "campaign_id": campaign.campaign_id,
        "observed_at": landed.fetched_at,
        "latest_answer_at": _latest_answer_at(conn, campaign.campaign_id),
    }
    transitions = conn.execute(text(sqlfiles.read("load/insert_status_transitions.sql")), params)
    merged = conn.execute(text(sqlfiles.read("load/merge_recipient_delivery.sql")), params).one()
    missing = conn.execute(text(sqlfiles.read("load/mark_missing_recipients.sql")), params)
    return transitions.rowcount + merged.new_recipients + missing.rowcount


def refresh_aggregates(conn: Connection, provider: str, campaign_id: str) -> None:
    """Rewrite the campaign's rows of the aggregates the dashboards and the detection check
    read (``sms.campaign_outcome``, ``sms.campaign_outcome_hour``; Nixflex also
    ``sms.campaign_delivery_time``) from its facts as this transaction just wrote them: they
    commit, or roll back, with the facts."""
    params = {"provider": provider, "campaign_id": campaign_id}
    conn.execute(text(sqlfiles.read("load/clear_campaign_aggregates.sql")), params)
    conn.execute(text(sqlfiles.read("load/insert_campaign_outcome.sql")), params)
    conn.execute(text(sqlfiles.read("load/insert_campaign_outcome_hour.sql")), params)
    if provider == "nixflex":
        conn.execute(
            text(sqlfiles.read("load/insert_campaign_delivery_time.sql")),
            {"campaign_id": campaign_id},
        )


def _latest_answer_at(conn: Connection, campaign_id: str) -> datetime | None:
    """When the campaign's latest loaded answer was fetched (None: never loaded)."""
    return conn.execute(
        text(sqlfiles.read("load/latest_answer_at.sql")), {"c": campaign_id}
    ).scalar_one_or_none()


def _lock_campaign(conn: Connection, campaign_id: str) -> None:
    """One loader at a time per campaign, so "never seen" stays true until we commit
    (taking it again in the same transaction is harmless)."""
    conn.execute(
        text("select pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"nixflex:{campaign_id}"},
    )


def _upsert_nixflex_dim(
    conn: Connection, c: NixflexCampaign, landed: _Landed, first_sent: datetime | None
) -> None:
    conn.execute(
        text(sqlfiles.read("load/upsert_dim_campaign.sql")),
        {
            "provider": "nixflex",
            "campaign_id": c.campaign_id,
            "name": c.name,
            "sender": c.sender,
            "message_text": c.message_text,
            "status": c.status,
            "created_at": c.created_at,
            "scheduled_at": c.scheduled_at,
            "sent_at": first_sent,
            "cost": None,
            "reported_total": c.reported_total,
            "reported_delivered": c.reported_delivered,
            "reported_failed": c.reported_failed,
            "reported_pending": c.reported_pending,
            "observed_at": landed.fetched_at,
            "account": landed.account,
        },
    )


# The latest settles_at: the end of year 9999 less a day, so that a session in any time zone
# (up to UTC+14) still reads it back as a Python datetime.
END_OF_TIME = datetime.max.replace(tzinfo=UTC) - timedelta(days=1)


def _add_capped(at: datetime, by: timedelta) -> datetime:
    """``at + by``, or ``END_OF_TIME`` when a vendor's date is that close to year 9999."""
    try:
        return min(at + by, END_OF_TIME)
    except OverflowError:
        return END_OF_TIME


def _settle(
    conn: Connection,
    provider: str,
    campaign_id: str,
    created_at: datetime | None,
    landed: _Landed,
    final: bool,
    last_sent: datetime | None,
    changed: int,
    settle_window: timedelta,
) -> None:
    """Record whether the campaign is final and when it settles, from the data just loaded:
    a final one ``settle_window`` after its last message; one that is not final
    ``settle_window`` after its last change (``load/settle_campaign.sql``)."""
    settles_at = _add_capped(last_sent, settle_window) if final and last_sent else None
    if final and settles_at is None:  # final with no sending time at all: settles from now
        settles_at = _add_capped(landed.fetched_at, settle_window)
    conn.execute(
        text(sqlfiles.read("load/settle_campaign.sql")),
        {
            "provider": provider,
            "campaign_id": campaign_id,
            "account": landed.account,
            "created_at": created_at,
            "observed_at": landed.fetched_at,
            "changed_at": landed.fetched_at if changed else None,
            "is_final": final,
            "last_sent_at": last_sent,
            "settles_at": settles_at,
            "settle_window": settle_window,
            "end_of_time": END_OF_TIME,
        },
    )


_COPY = f"copy {{table}} ({', '.join(recipient_rows.COPY_COLUMNS)}) from stdin (format binary)"
# Binary COPY carries no type per field: the server reads each field as its column's type,
# and psycopg picks each field's binary form from its Python type (str → text, aware
# datetime → timestamptz, bytes → as they are: `variables` is already in jsonb's binary
# form), which is exactly what the columns hold. The staging table has the same columns.


def _copy_recipients(
    conn: Connection,
    campaign_id: str,
    recipients: recipient_rows.Recipients,
    observed_at: datetime,
) -> tuple[list[recipient_rows.RecipientRow], bool]:
    """COPY a campaign's recipients: straight into the facts when the warehouse has never
    held a recipient of the campaign and no later answer of it was loaded (then every row
    gets its country; returns the rows and True), else into the staging table for the
    merge, where only the recipients the campaign does not hold yet get theirs (False)."""
    _lock_campaign(conn, campaign_id)
    in_facts = (
        recipients.count > 0
        and _first_sight(conn, campaign_id)
        and _newest(conn, campaign_id, observed_at)
    )
    rows = recipients.rows(in_facts)
    if not in_facts:
        conn.execute(text(sqlfiles.read("load/stage_recipient.sql")))
    table = "sms.recipient_delivery" if in_facts else "stage_recipient"
    cursor = conn.connection.driver_connection.cursor()
    with cursor, cursor.copy(_COPY.format(table=table)) as copy:
        for row in rows:
            copy.write_row(row)
    if not in_facts:
        _place_new_recipients(conn, campaign_id, recipients, rows)
    return rows, in_facts


def _place_new_recipients(
    conn: Connection,
    campaign_id: str,
    recipients: recipient_rows.Recipients,
    rows: list[recipient_rows.RecipientRow],
) -> None:
    """Give the staged recipients the campaign does not hold yet their country, from their
    numbers as received (a held one keeps its own: the merge never changes it)."""
    sql = text(sqlfiles.read("load/new_staged_recipients.sql"))
    new = set(conn.execute(sql, {"campaign_id": campaign_id}).scalars())
    if not new:
        return
    found = [
        (row[1], phone) for row, phone in zip(rows, recipients.phones(), strict=True)
        if row[1] in new
    ]  # fmt: skip
    conn.execute(
        text(sqlfiles.read("load/place_staged_recipients.sql")),
        {"phones": [held for held, _ in found], "countries": countries([p for _, p in found])},
    )


def _first_sight(conn: Connection, campaign_id: str) -> bool:
    held = conn.execute(text(sqlfiles.read("load/campaign_held.sql")), {"c": campaign_id}).first()
    return held is None


def _newest(conn: Connection, campaign_id: str, observed_at: datetime) -> bool:
    """No later answer of the campaign was loaded (one that listed no recipient would leave
    this answer's recipients missing: the merge says so)."""
    latest = _latest_answer_at(conn, campaign_id)
    return latest is None or latest < observed_at


def _write_smsfactor(
    conn: Connection,
    c: SmsFactorCampaign,
    landed: _Landed,
    stats: LoadStats,
    settle_window: timedelta,
) -> None:
    """One campaign of an SMSFactor page: its dim row, a counter snapshot when the counters
    moved, and its settlement."""
    sent = c.status not in _NOT_SENT_STATUSES
    _upsert_smsfactor_dim(conn, c, landed, sent)
    snapshot = _insert_smsfactor_counters(conn, c, landed.fetched_at)
    if snapshot.inserted:
        refresh_aggregates(conn, "smsfactor", c.campaign_id)
    stats.campaigns += 1
    stats.counter_snapshots += snapshot.inserted
    final = c.status in SMSFACTOR_FINAL_STATUSES
    last_sent = _smsfactor_last_sent(c, snapshot, landed.fetched_at, sent)
    _settle(
        conn,
        "smsfactor",
        c.campaign_id,
        c.created_at,
        landed,
        final,
        last_sent,
        snapshot.inserted,
        settle_window,
    )


def _upsert_smsfactor_dim(
    conn: Connection, c: SmsFactorCampaign, landed: _Landed, sent: bool
) -> None:
    conn.execute(
        text(sqlfiles.read("load/upsert_dim_campaign.sql")),
        {
            "provider": "smsfactor",
            "campaign_id": c.campaign_id,
            "name": None,
            "sender": c.sender,
            "message_text": c.text,
            "status": c.status,
            "created_at": c.created_at,
            "scheduled_at": c.send_date,
            "sent_at": c.send_date if sent else None,
            "cost": c.cost,
            "reported_total": c.total,
            "reported_delivered": c.delivered,
            "reported_failed": None,
            "reported_pending": None,
            "observed_at": landed.fetched_at,
            "account": landed.account,
        },
    )


def _insert_smsfactor_counters(
    conn: Connection, c: SmsFactorCampaign, observed_at: datetime
) -> Row[Any]:
    """Snapshot the campaign's counters (``load/insert_campaign_counters.sql``): whether a
    snapshot was inserted, the delivery moved, and this is the campaign's first sight."""
    return conn.execute(
        text(sqlfiles.read("load/insert_campaign_counters.sql")),
        {
            "campaign_id": c.campaign_id,
            "observed_at": observed_at,
            "status": c.status,
            "total": c.total,
            "delivered": c.delivered,
            "error": c.error,
            "expired": c.expired,
            "network_error": c.network_error,
            "stop": c.stop,
            "npai": c.npai,
            "delivery_rate": c.delivery_rate,
            "cost": c.cost,
        },
    ).one()


def _smsfactor_last_sent(
    c: SmsFactorCampaign, snapshot: Row[Any], observed_at: datetime, sent: bool
) -> datetime | None:
    """When the campaign last sent, as far as settlement counts.

    The date shown is the send date asked for: a campaign held in moderation sends on
    release, later. Counters that moved since the last read, or messages still pending
    when first seen, mean messages still move: settlement counts from this read.
    """
    last_sent = c.send_date or c.created_at
    pending = c.total - c.delivered - c.error - c.expired - c.network_error - c.npai
    moving = snapshot.delivery_moved or (snapshot.first_sight and sent and pending > 0)
    if moving and (last_sent is None or last_sent < observed_at):
        last_sent = observed_at
    return last_sent
