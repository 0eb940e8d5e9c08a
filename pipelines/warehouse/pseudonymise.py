"""Bring the rows the ``sms`` schema already holds to the configured privacy setting.

The warehouse records which setting its ``sms`` rows were written with
(``meta.sms_privacy``: ``as received``, or a keyed fingerprint of ``PHONE_HASH_SALT``,
never the salt). Every load starts here, under the load lock, before it loads anything:
when the configured setting differs from the recorded one, the rows already loaded are
rewritten first, then the new setting is recorded.

- **Salt switched on** (phones held as received): exact, in place. Every phone in
  ``sms.recipient_delivery`` and ``sms.recipient_status_transition`` becomes the pseudonym
  the loader now writes (``Privacy.phone``), ``variables`` and ``rendered_message`` go.
  Nothing is added or removed, so every count stays; the next answer of a campaign matches
  the rewritten recipients, and an answer identical to one already loaded (not read again)
  has nothing left to leak.
- **Salt changed, or switched off**: a pseudonym cannot be turned back into its number, so
  rows keep the pseudonyms they have (logged, with how many); personal fields still go when
  the new setting is salted. A campaign's next answer supersedes its old rows, since counts
  follow each campaign's latest answer. While every raw answer is kept, ``make replay``
  rebuilds all of them with the new setting (the log says whether it can).

The rewrite walks the Nixflex campaigns in ``campaign_id`` order, one transaction per
``BATCH_CAMPAIGNS`` campaigns, recording how far it got in the same transaction: a rewrite
cut short (a crash, a stopped run) resumes after the last batch it committed at the next
load. Each batch rewrites only phones not yet pseudonyms, so running one twice changes
nothing. The log says what was done in counts, never a phone number or the salt.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, text

from pipelines.warehouse import sqlfiles
from pipelines.warehouse.privacy import AS_RECEIVED_SETTING, PSEUDONYM, Privacy

log = logging.getLogger(__name__)

BATCH_CAMPAIGNS = 20  # campaigns per transaction (10,000 recipients each: ~0.2 M rows)
_PATTERN = {"pseudonym": f"^({PSEUDONYM})$"}


@dataclass
class Rewrite:
    """What bringing ``sms`` to a setting did (counts only)."""

    campaigns: int = 0
    recipients_pseudonymised: int = 0
    changes_pseudonymised: int = 0  # rows of sms.recipient_status_transition
    personal_fields_cleared: int = 0  # rows already pseudonyms that still held personal fields
    kept_pseudonyms: int = 0  # rows holding pseudonyms of an earlier (or unknown) salt


def _describe(setting: str | None) -> str:
    if setting is None:
        return "not recorded"
    return "phones as received" if setting == AS_RECEIVED_SETTING else "pseudonymised"


def bring_to_setting(
    engine: Engine,
    privacy: Privacy,
    progress: Callable[[str], None] | None = None,
) -> Rewrite | None:
    """Rewrite ``sms`` to ``privacy`` when the recorded setting differs (see the module);
    None when it already matches. The caller holds the load lock
    (``lanes.one_load_at_a_time``)."""

    def say(line: str) -> None:  # the run's log, and this module's logger
        log.info(line)
        if progress:
            progress(line)

    target = privacy.fingerprint
    with engine.connect() as conn:
        held = conn.execute(text(sqlfiles.read("privacy/setting.sql"))).one_or_none()
    written = held.written_with if held else None
    under_way = held.rewriting_to if held else None
    if written == target and under_way is None:
        return None
    report = Rewrite()
    if under_way == target:
        after = held.rewritten_through if held else None
        say(f"privacy: resuming the rewrite of sms to {_describe(target)} after a stop")
    else:
        after = None
        # Pseudonyms may be held under a salt, an unknown setting, or a rewrite cut short.
        mixed = written != AS_RECEIVED_SETTING or under_way is not None
        _begin(engine, written, target, mixed, report, say)
    if privacy.pseudonymised:
        _rewrite_after(engine, privacy, after, report, say)
    with engine.begin() as conn:
        conn.execute(text(sqlfiles.read("privacy/record_setting.sql")), {"setting": target})
    if privacy.pseudonymised:
        say(
            f"privacy: sms rewritten to {_describe(target)} before loading: "
            f"{report.campaigns:,} campaigns, {report.recipients_pseudonymised:,} recipients "
            f"and {report.changes_pseudonymised:,} status changes pseudonymised, personal "
            f"fields cleared on {report.personal_fields_cleared:,} more recipients; setting "
            "recorded"
        )
    else:
        say("privacy: phones are loaded as received from now on; setting recorded")
    return report


def _begin(
    engine: Engine,
    written: str | None,
    target: str,
    mixed: bool,
    report: Rewrite,
    say: Callable[[str], None],
) -> None:
    """Record that a rewrite to ``target`` begins; say what cannot be rewritten (``mixed``:
    rows may hold pseudonyms of another salt)."""
    with engine.begin() as conn:
        conn.execute(text(sqlfiles.read("privacy/begin_rewrite.sql")), {"target": target})
        if mixed:
            sql = text(sqlfiles.read("privacy/count_pseudonyms.sql"))
            report.kept_pseudonyms = int(conn.execute(sql, _PATTERN).scalar_one())
        pruned = conn.execute(text(sqlfiles.read("replay/pruned_months.sql"))).scalars().all()
    say(f"privacy: setting changed ({_describe(written)} -> {_describe(target)})")
    if not report.kept_pseudonyms:
        return
    rebuild = (
        f"raw answers of {len(pruned)} months were deleted (RAW_RETENTION_MONTHS), so they "
        "cannot all be rebuilt"
        if pruned
        else "every raw answer is kept: `make replay` rebuilds them all with this setting"
    )
    say(
        f"privacy: {report.kept_pseudonyms:,} recipients hold pseudonyms made with another "
        "salt: they cannot be turned back into phone numbers and stay as they are; a "
        f"campaign's next answer supersedes them; {rebuild}"
    )


def _rewrite_after(
    engine: Engine,
    privacy: Privacy,
    after: str | None,
    report: Rewrite,
    say: Callable[[str], None],
) -> None:
    """Rewrite every campaign after ``after``, a batch per transaction, recording progress."""
    batches = 0
    while campaigns := _next_campaigns(engine, after):
        with engine.begin() as conn:
            _rewrite_batch(conn, privacy, campaigns, report)
            conn.execute(
                text(sqlfiles.read("privacy/record_progress.sql")),
                {"campaign_id": campaigns[-1]},
            )
        after = campaigns[-1]
        batches += 1
        if batches % 50 == 0:
            say(f"privacy: {report.campaigns:,} campaigns rewritten so far")


def _next_campaigns(engine: Engine, after: str | None) -> list[str]:
    with engine.connect() as conn:
        found = conn.execute(
            text(sqlfiles.read("privacy/next_campaigns.sql")),
            {"after": after, "batch": BATCH_CAMPAIGNS},
        )
        return [str(c) for c in found.scalars()]


def _rewrite_batch(
    conn: Connection, privacy: Privacy, campaigns: list[str], report: Rewrite
) -> None:
    """Pseudonymise these campaigns' phones held as received and clear personal fields."""
    params: dict[str, object] = {"campaigns": campaigns, **_PATTERN}
    phones = conn.execute(text(sqlfiles.read("privacy/phones_to_pseudonymise.sql")), params)
    found = [str(p) for p in phones.scalars()]
    params.update(phones=found, pseudonyms=[privacy.phone(p) for p in found])
    if found:
        report.recipients_pseudonymised += _rowcount(conn, "pseudonymise_recipients", params)
        report.changes_pseudonymised += _rowcount(conn, "pseudonymise_transitions", params)
    report.personal_fields_cleared += _rowcount(conn, "clear_personal_fields", params)
    report.campaigns += len(campaigns)


def _rowcount(conn: Connection, name: str, params: dict[str, object]) -> int:
    return conn.execute(text(sqlfiles.read(f"privacy/{name}.sql")), params).rowcount
