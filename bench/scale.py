"""``make bench-scale``: what one 15-minute sync, the daily full check and the delivery
view cost on a warehouse of many recipients (``--rows``, default 50 M), against the same
sync on an empty warehouse.

1. **The big warehouse**, built fast with set-based SQL (``generate_series`` and
   ``INSERT … SELECT`` into the real, indexed tables of a fresh migrated database, in batches
   of whole campaigns, then ``VACUUM ANALYZE`` as autovacuum would leave them): Nixflex
   campaigns of 8,000-10,000 recipients spread over 18 months (all settled: final, last
   message more than 72 h ago), with their ``dim_campaign`` rows (reported counts equal to
   their recipients', so every check passes), ``campaign_poll_state`` rows, status
   transitions as 15-minute polls saw them (three campaigns in four were first seen in
   flight: queued → final, one recipient in ten queued → sent → delivered), one SMSFactor
   campaign per ten Nixflex ones with four counter snapshots each, and raw answers: one small
   answer with bytes per campaign plus later polls of it landed by reference, and one list
   page per vendor per 15 minutes. Recipients are British, one in ten French and one in ten
   German (phone prefix and ``country``). Then the aggregates the loader keeps
   (``sms.campaign_outcome``, ``sms.campaign_delivery_time``, ``sms.campaign_outcome_hour``)
   are filled by the closing ``INSERT … SELECT`` of their migrations (0045, 0046, 0056),
   timed: what upgrading a warehouse of this size costs. The detection checks' steps are
   printed on their own (after a sync and in the daily full check).
2. **The timings**: the simulator (its own process, clock frozen, so both warehouses get the
   same bytes) serves 50 Nixflex campaigns and a few SMSFactor ones, none of them known to
   the warehouse; the job ``full_sync`` (every asset and its checks, scoped to what the sync
   loaded) runs once on an EMPTY migrated warehouse and once on the big one, in this
   process on an ephemeral Dagster instance; ``incremental_ratio`` = big / empty. Then, on
   the big one, the job ``full_checks`` (every check over everything) and ``select * from
   sms.campaign_delivery``, every query of docs/analysts.md, and every dashboard tile of
   ``bench/dashboard_queries.json`` (each range moved to end the day after the newest
   generated campaign; median of three runs and its plan; ok at most 1 s). Each Dagster
   step is timed (the run's step stats), and so is every SQL statement the pipeline sends
   through SQLAlchemy; the slowest read-only ones are explained (``EXPLAIN (ANALYZE,
   BUFFERS)``) on the big warehouse, so a slow spot comes with its plan.

Both databases are dropped afterwards. Written to ``bench/results/scale.json`` (whatever
``--rows``: the file says how many).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, event, text

from bench.common import SimulatorProcess, machine, warehouse_database, write_result
from pipelines.simulator import NIXFLEX_DEMO_KEY, SMSFACTOR_DEMO_TOKEN, SimClock, Simulator
from pipelines.simulator.model import (
    FIRST_NAMES,
    NIXFLEX_TEMPLATES,
    SMSFACTOR_SENDERS,
    SMSFACTOR_TEXTS,
)
from pipelines.simulator.nixflex import FAILED_ERRORS, UNDELIVERED_ERRORS
from pipelines.warehouse.privacy import AS_RECEIVED_SETTING
from pipelines.warehouse.sqlfiles import SQL_DIR

DEFAULT_ROWS = 50_000_000
HISTORY = timedelta(days=548)  # ~18 months of campaigns
NEWEST = timedelta(days=8)  # the newest generated campaign: settled days ago
POLL = 900  # seconds between two syncs (the 15-minute schedule)
SETTLE = timedelta(hours=72)
BATCH_ROWS = 500_000  # recipients per INSERT … SELECT (whole campaigns)
SIM_NIXFLEX, SIM_SMSFACTOR = 50, 12


def _log(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


# --- the plan of the big warehouse ----------------------------------------------------------


@dataclass(frozen=True)
class NixflexPlan:
    """One generated Nixflex campaign; its recipients are expanded in SQL from these."""

    k: int
    campaign_id: str
    size: int
    created_at: datetime
    send_at: datetime
    pace: float  # seconds between two recipients leaving
    template: int
    phone_base: int
    und: int  # x < und: undelivered; < fail: failed; < soft: sent (soft failure); else delivered
    fail: int
    soft: int
    in_flight: bool  # first seen while sending (status changes recorded) or after (backfill)

    @property
    def last_sent(self) -> datetime:
        return self.send_at + timedelta(seconds=int((self.size - 1) * self.pace))

    @property
    def first_seen(self) -> datetime:
        return self.send_at + timedelta(seconds=60) if self.in_flight else self.last_polled

    @property
    def last_polled(self) -> datetime:
        # In flight: polled until it settled; a backfill: read once, a day after it was done.
        if self.in_flight:
            return self.last_sent + SETTLE + timedelta(minutes=5 + self.k % 10)
        return self.last_sent + timedelta(days=1)

    def counts(self) -> tuple[int, int]:
        """(delivered, failed) exactly as the SQL below assigns statuses: x(i) = (7919 i +
        104729 k) mod 1000 is a bijection on every 1,000 consecutive i."""
        full = self.size // 1000
        failed = full * self.soft
        offset = 104729 * self.k
        failed += sum((7919 * i + offset) % 1000 < self.soft for i in range(full * 1000, self.size))
        return self.size - failed, failed


def plan_nixflex(rows: int, now: datetime, taken: set[str]) -> list[NixflexPlan]:
    sizes = []
    while sum(sizes) < rows:
        sizes.append(min(10_000 - (len(sizes) * 37) % 2001, rows - sum(sizes)))
    start, span = now - HISTORY, HISTORY - NEWEST
    plans, seen = [], set(taken)
    for k, size in enumerate(sizes):
        salt, attempt = f"scale:{k}", 0
        while (cid := f"smsc_{hashlib.sha256(salt.encode()).hexdigest()[:8]}") in seen:
            attempt += 1
            salt = f"scale:{k}:{attempt}"
        seen.add(cid)
        created = (start + span * ((k + 0.5) / len(sizes))).replace(microsecond=0)
        und = 20 + k % 41
        fail = und + 15 + k % 31
        plans.append(
            NixflexPlan(
                k=k,
                campaign_id=cid,
                size=size,
                created_at=created,
                send_at=created + timedelta(seconds=10 + k % 20),
                pace=0.05 + (k % 10) * 0.05,
                template=k % len(NIXFLEX_TEMPLATES),
                phone_base=(k * 2_654_435_761) % 1_000_000_000,
                und=und,
                fail=fail,
                soft=fail + 15 + k % 29,
                in_flight=k % 4 != 0,
            )
        )
    return plans


def _sql_list(values: tuple[str, ...]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


# Per-recipient values, from the batch's campaign arrays: x decides the status (thresholds per
# mille), phone is unique within a campaign (387420489 = 3^18 is prime to 10^9), polls are on
# the 15-minute grid from the first sighting.
_RECIPIENTS = f"""
with c as (
    select *
    from unnest(
        cast(:k as int[]), cast(:campaign_id as text[]), cast(:size as int[]),
        cast(:send_at as timestamptz[]), cast(:pace as float8[]), cast(:template as text[]),
        cast(:phone_base as bigint[]), cast(:und as int[]), cast(:fail as int[]),
        cast(:soft as int[]), cast(:in_flight as boolean[]), cast(:first_seen as timestamptz[])
    ) as c (k, campaign_id, size, send_at, pace, template, phone_base, und, fail, soft,
            in_flight, first_seen)
),

g as (
    select
        c.*,
        i,
        (i * 7919 + c.k * 104729) % 1000 as x,
        c.send_at + floor(i * c.pace) * interval '1 second' as sent_at,
        (array[{_sql_list(FIRST_NAMES)}])[1 + (i * 7 + c.k) % 20]
            as first_name,
        -- one recipient in ten French, one in ten German, the others British
        (array['+336', '+4915', '+447', '+447', '+447', '+447', '+447', '+447', '+447',
               '+447'])[1 + (i + c.k) % 10]
        || lpad(((c.phone_base + i::bigint * 387420489) % 1000000000)::text, 9, '0') as phone,
        (array['FR', 'DE', 'GB', 'GB', 'GB', 'GB', 'GB', 'GB', 'GB', 'GB'])[1 + (i + c.k) % 10]
            as country
    from c
    cross join lateral generate_series(0, c.size - 1) as i
),

r as (
    select
        g.*,
        case when x < und then 'undelivered' when x < fail then 'failed'
             when x < soft then 'sent' else 'delivered' end as status,
        in_flight and x >= soft and i % 10 = 3 as twice,
        -- the first poll after the recipient left, and after its receipt came
        first_seen + interval '{POLL} seconds' * greatest(1, ceil(
            extract(epoch from sent_at - first_seen) / {POLL})) as seen_sent,
        first_seen + interval '{POLL} seconds' * greatest(1, ceil(
            extract(epoch from sent_at - first_seen + (5 + (i * 37 + k) % 600)
                    * interval '1 second') / {POLL})) as seen_final
    from g
)
"""  # noqa: S608 - built from this module's constants only

INSERT_RECIPIENTS = (
    _RECIPIENTS
    + f"""
insert into sms.recipient_delivery (
    campaign_id, phone, status, delivery_bucket, twilio_sid, error_message, rendered_message,
    variables, sent_at, first_seen_at, status_changed_at, first_status, country
)
select
    campaign_id,
    phone,
    status,
    case when status = 'delivered' then 'delivered' else 'failed' end,
    'SM' || md5(campaign_id || ':' || i),
    case status
        when 'undelivered' then (array[{_sql_list(UNDELIVERED_ERRORS)}])[1 + i % 3]
        when 'failed' then (array[{_sql_list(FAILED_ERRORS)}])[1 + i % 3]
    end,
    replace(template, '{{{{first_name}}}}', first_name),
    jsonb_build_object('first_name', first_name),
    sent_at,
    first_seen,
    case when not in_flight then null
         when twice then seen_sent + interval '{POLL} seconds'
         when status = 'sent' then seen_sent
         else seen_final end,
    case when in_flight then 'queued' end,
    country
from r
"""  # noqa: S608
)

INSERT_TRANSITIONS = (
    _RECIPIENTS
    + f"""
insert into sms.recipient_status_transition
    (provider, campaign_id, phone, from_status, to_status, observed_at)
select
    'nixflex',
    campaign_id,
    phone,
    t.from_status,
    t.to_status,
    t.observed_at
from r
cross join lateral (
    values
        ('queued', case when twice then 'sent' else status end,
         case when twice or status = 'sent' then seen_sent else seen_final end),
        ('sent', 'delivered', case when twice then seen_sent + interval '{POLL} seconds' end)
) as t (from_status, to_status, observed_at)
where in_flight and t.observed_at is not null
"""  # noqa: S608
)


def _batch_params(batch: list[NixflexPlan]) -> dict[str, list[Any]]:
    return {
        "k": [p.k for p in batch],
        "campaign_id": [p.campaign_id for p in batch],
        "size": [p.size for p in batch],
        "send_at": [p.send_at for p in batch],
        "pace": [p.pace for p in batch],
        "template": [NIXFLEX_TEMPLATES[p.template][1] for p in batch],
        "phone_base": [p.phone_base for p in batch],
        "und": [p.und for p in batch],
        "fail": [p.fail for p in batch],
        "soft": [p.soft for p in batch],
        "in_flight": [p.in_flight for p in batch],
        "first_seen": [p.first_seen for p in batch],
    }


INSERT_NIXFLEX_CAMPAIGNS = """
with c as (
    select *
    from unnest(
        cast(:campaign_id as text[]), cast(:name as text[]), cast(:sender as text[]),
        cast(:message_text as text[]), cast(:created_at as timestamptz[]),
        cast(:sent_at as timestamptz[]), cast(:last_sent as timestamptz[]),
        cast(:total as int[]), cast(:delivered as int[]), cast(:failed as int[]),
        cast(:first_seen as timestamptz[]), cast(:last_polled as timestamptz[]),
        cast(:polls as int[]), cast(:answers as int[])
    ) as c (campaign_id, name, sender, message_text, created_at, sent_at, last_sent, total,
            delivered, failed, first_seen, last_polled, polls, answers)
),

dim as (
    insert into sms.dim_campaign (
        provider, campaign_id, name, sender, message_text, status, created_at, scheduled_at,
        sent_at, cost, reported_total, reported_delivered, reported_failed, reported_pending,
        first_seen_at, last_polled_at, account
    )
    select 'nixflex', campaign_id, name, sender, message_text, 'done', created_at, null,
           sent_at, null, total, delivered, failed, 0, first_seen, last_polled, 'default'
    from c
),

state as (
    insert into sms.campaign_poll_state (
        provider, campaign_id, account, created_at, first_seen_at, last_listed_at,
        last_polled_at, polls, summary_hash, last_changed_at, is_final, last_sent_at,
        settles_at, state_as_of, last_loaded_at
    )
    select 'nixflex', campaign_id, 'default', created_at, first_seen, last_polled,
           last_polled, polls, left(md5(campaign_id || '-summary'), 32),
           least(last_sent + interval '2 hours', last_polled), true, last_sent,
           last_sent + interval '72 hours', last_polled, last_polled
    from c
),

answer as (
    select c.*, convert_to(json_build_object(
        'campaign_id', campaign_id, 'name', name, 'status', 'done', 'total_count', total,
        'delivered_count', delivered, 'failed_count', failed, 'pending_count', 0,
        'recipients', json_build_array())::text, 'UTF8') as body
    from c
),

firsts as (
    insert into raw.vendor_response (
        provider, endpoint, request_path, request_params, campaign_id, http_status,
        content_type, headers, fetched_at, content_hash, body, body_encoding, run_id,
        load_status, load_note, loaded_at, account
    )
    select 'nixflex', 'campaign.get', '/sms/campaigns/' || campaign_id, '{}', campaign_id,
           200, 'application/json', '{"content-type": "application/json"}', first_seen,
           encode(sha256(body), 'hex'), body, 'identity', 'bench-scale', 'loaded', null,
           first_seen + interval '2 seconds', 'default'
    from answer
    returning response_id, campaign_id, fetched_at, content_hash
)

insert into raw.vendor_response (
    provider, endpoint, request_path, request_params, campaign_id, http_status,
    content_type, headers, fetched_at, content_hash, body, body_encoding, run_id,
    load_status, load_note, loaded_at, account, duplicate_of
)
select 'nixflex', 'campaign.get', '/sms/campaigns/' || f.campaign_id, '{}', f.campaign_id,
       200, 'application/json', '{"content-type": "application/json"}', t.at,
       f.content_hash, null, 'identity', 'bench-scale', 'loaded',
       'unchanged: same bytes as answer ' || f.response_id || ', not re-read',
       t.at + interval '1 second', 'default', f.response_id
from firsts as f
join c using (campaign_id)
cross join lateral (
    select f.fetched_at + (c.last_polled - f.fetched_at) * j / (c.answers - 1) as at
    from generate_series(1, c.answers - 1) as j
) as t
"""


def _nixflex_campaign_params(plans: list[NixflexPlan], answers: int) -> dict[str, list[Any]]:
    senders = [f"+4474{(k * 7_654_321) % 10**8:08d}" for k in range(3)]
    counted = [p.counts() for p in plans]
    return {
        "campaign_id": [p.campaign_id for p in plans],
        "name": [NIXFLEX_TEMPLATES[p.template][0] for p in plans],
        "sender": [senders[p.k % 3] for p in plans],
        "message_text": [NIXFLEX_TEMPLATES[p.template][1] for p in plans],
        "created_at": [p.created_at for p in plans],
        "sent_at": [p.send_at for p in plans],
        "last_sent": [p.last_sent for p in plans],
        "total": [p.size for p in plans],
        "delivered": [d for d, _ in counted],
        "failed": [f for _, f in counted],
        "first_seen": [p.first_seen for p in plans],
        "last_polled": [p.last_polled for p in plans],
        "polls": [80 if p.in_flight else 1 for p in plans],
        # A backfilled campaign was read once; one seen in flight was polled until settled.
        "answers": [answers if p.in_flight else 1 for p in plans],
    }


INSERT_SMSFACTOR = """
with c as (
    select *
    from unnest(
        cast(:campaign_id as text[]), cast(:sender as text[]), cast(:message_text as text[]),
        cast(:created_at as timestamptz[]), cast(:total as int[]), cast(:npai as int[]),
        cast(:error as int[]), cast(:expired as int[]), cast(:network_error as int[]),
        cast(:stop as int[]), cast(:unit_cost as numeric[])
    ) as c (campaign_id, sender, message_text, created_at, total, npai, error, expired,
            network_error, stop, unit_cost)
),

f as (
    select
        c.*,
        total - npai - error - expired - network_error as delivered,
        created_at + interval '15 minutes' as first_seen,
        created_at + interval '60 minutes' as last_polled
    from c
),

dim as (
    insert into sms.dim_campaign (
        provider, campaign_id, name, sender, message_text, status, created_at, scheduled_at,
        sent_at, cost, reported_total, reported_delivered, reported_failed, reported_pending,
        first_seen_at, last_polled_at, account
    )
    select 'smsfactor', campaign_id, null, sender, message_text, 'Sent', created_at,
           created_at, created_at, total * unit_cost, total, delivered, null, null,
           first_seen, last_polled, 'default'
    from f
),

state as (
    insert into sms.campaign_poll_state (
        provider, campaign_id, account, created_at, first_seen_at, last_listed_at,
        last_polled_at, polls, last_changed_at, is_final, last_sent_at, settles_at,
        state_as_of, last_loaded_at
    )
    select 'smsfactor', campaign_id, 'default', created_at, first_seen, last_polled,
           last_polled, 4, last_polled, true, created_at, created_at + interval '72 hours',
           last_polled, last_polled
    from f
)

insert into sms.fact_campaign_counters (
    provider, campaign_id, observed_at, status, total, delivered, error, expired,
    network_error, stop, npai, delivery_rate, cost
)
select
    'smsfactor', campaign_id, first_seen + (s.n - 1) * interval '15 minutes',
    case when s.n = 4 then 'Sent' else 'In progress' end,
    total,
    floor(delivered * s.part)::int, floor(error * s.part)::int, floor(expired * s.part)::int,
    floor(network_error * s.part)::int, floor(stop * s.part)::int, npai,
    round(100.0 * floor(delivered * s.part) / total, 2),
    total * unit_cost
from f
cross join (values (1, 0.3), (2, 0.7), (3, 0.95), (4, 1.0)) as s (n, part)
"""


def _smsfactor_params(count: int, now: datetime) -> dict[str, list[Any]]:
    start, span = now - HISTORY, HISTORY - NEWEST
    rows: dict[str, list[Any]] = defaultdict(list)
    for j in range(count):
        total = 500 + (j * 7_919) % 19_500
        sendable = total - total * (j % 3) // 100
        rows["campaign_id"].append(str(70_000_000 + j))
        rows["sender"].append(SMSFACTOR_SENDERS[j % len(SMSFACTOR_SENDERS)])
        text_ = SMSFACTOR_TEXTS[j % len(SMSFACTOR_TEXTS)]
        rows["message_text"].append(text_)
        rows["created_at"].append((start + span * ((j + 0.3) / count)).replace(microsecond=0))
        rows["total"].append(total)
        rows["npai"].append(total - sendable)
        rows["error"].append(sendable * (j % 5) // 250)
        rows["expired"].append(sendable * (j % 4) // 300)
        rows["network_error"].append(sendable * (j % 3) // 400)
        rows["stop"].append(sendable * (j % 7) // 2000)
        rows["unit_cost"].append("0.045" if len(text_) <= 160 else "0.09")
    return rows


# One list page per vendor per sync (every 15 minutes) over the whole history.
INSERT_PAGES = f"""
insert into raw.vendor_response (
    provider, endpoint, request_path, request_params, campaign_id, http_status,
    content_type, headers, fetched_at, content_hash, body, body_encoding, run_id,
    load_status, loaded_at, account
)
select v.provider, v.endpoint, v.path, v.params, null, 200, 'application/json',
       '{{"content-type": "application/json"}}', p.at, encode(sha256(p.body), 'hex'),
       p.body, 'identity', 'bench-scale', 'loaded', p.at + interval '1 second', 'default'
from (
    values
        ('nixflex', 'campaigns.list', '/sms/campaigns', '{{"limit": 100, "offset": 0}}'::jsonb),
        ('smsfactor', 'campaigns.history', '/campaigns', '{{"start": 0, "length": 1000}}')
) as v (provider, endpoint, path, params)
cross join lateral (
    select at, convert_to(json_build_object('provider', v.provider, 'at', at,
                                            'campaigns', json_build_array())::text,
                          'UTF8') as body
    from generate_series(cast(:start as timestamptz), cast(:stop as timestamptz),
                         interval '{POLL} seconds') as at
) as p
"""  # noqa: S608


def _batches(plans: list[NixflexPlan]) -> Iterator[list[NixflexPlan]]:
    batch: list[NixflexPlan] = []
    rows = 0
    for plan in plans:
        batch.append(plan)
        rows += plan.size
        if rows >= BATCH_ROWS:
            yield batch
            batch, rows = [], 0
    if batch:
        yield batch


# Each table with its indexes, a partitioned one as the sum of its partitions.
TABLE_SIZES = """
select coalesce(pn.nspname || '.' || p.relname, n.nspname || '.' || c.relname),
       sum(pg_total_relation_size(c.oid))::bigint
from pg_class as c
join pg_namespace as n on n.oid = c.relnamespace
left join pg_inherits as i on i.inhrelid = c.oid
left join pg_class as p on p.oid = i.inhparent
left join pg_namespace as pn on pn.oid = p.relnamespace
where c.relkind = 'r' and (n.nspname in ('sms', 'raw') or pn.nspname in ('sms', 'raw'))
group by 1
order by 2 desc
"""
PARTITIONED = (
    ("raw.vendor_response", "fetched_at"),
    ("sms.recipient_status_transition", "observed_at"),
)
ENSURE = "raw.ensure_month_partitions(regclass, text, timestamptz, timestamptz)"


def _month_partitions(conn: Any, first: datetime, last: datetime) -> int:
    """Where the schema partitions tables by month (migrations 0026-0028), a partition for
    every month of the generated history, as migrating a warehouse with that history makes
    them; otherwise nothing."""
    if conn.execute(text("select to_regprocedure(:f)"), {"f": ENSURE}).scalar_one() is None:
        partitioned = conn.execute(
            text(
                "select count(*) from pg_partitioned_table "
                "where partrelid = any(cast(:t as regclass[]))"
            ),
            {"t": [t for t, _ in PARTITIONED]},
        ).scalar_one()
        if partitioned:
            _log(f"no {ENSURE}: old rows go to the default partitions")
        return 0
    made = 0
    for table, key in PARTITIONED:
        made += conn.execute(
            text("select raw.ensure_month_partitions(cast(:t as regclass), :k, :first, :last)"),
            {"t": table, "k": key, "first": first, "last": last},
        ).scalar_one()
    return made


# The two big tables: their keys and indexes are dropped before the bulk insert and made
# again after it from their own definitions, as the schema has them (unless --keep-indexes).
BULK_TABLES = ("sms.recipient_delivery", "sms.recipient_status_transition")
KEYS_AND_INDEXES = """
select 'constraint' as kind, c.conname as name, pg_get_constraintdef(c.oid) as definition
from pg_constraint as c
where c.conrelid = cast(:t as regclass) and c.contype in ('p', 'u', 'x')
union all
select 'index', i.relname, pg_get_indexdef(x.indexrelid)
from pg_index as x
join pg_class as i on i.oid = x.indexrelid
where x.indrelid = cast(:t as regclass)
  and not exists (select 1 from pg_constraint as c where c.conindid = x.indexrelid)
"""


# Indexes of the table, or of any of its partitions, that are not valid (e.g. a partitioned
# index some partition lacks).
INVALID_INDEXES = """
select x.indexrelid::regclass::text
from pg_index as x
where not x.indisvalid
  and x.indrelid in (
      select cast(:t as regclass)
      union all
      select relid from pg_partition_tree(cast(:t as regclass))
  )
"""


@dataclass(frozen=True)
class Dropped:
    table: str
    kind: str
    name: str
    definition: str


def _drop_indexes(engine: Engine) -> list[Dropped]:
    """Drop the big tables' keys and indexes (one transaction), returning how to make them
    again; nothing is dropped when anything refuses (e.g. a foreign key needs a key)."""
    dropped = []
    try:
        with engine.begin() as conn:
            for table in BULK_TABLES:
                for kind, name, definition in conn.execute(text(KEYS_AND_INDEXES), {"t": table}):
                    schema = table.split(".")[0]
                    if kind == "constraint":
                        conn.execute(text(f'alter table {table} drop constraint "{name}"'))
                    else:
                        conn.execute(text(f'drop index "{schema}"."{name}"'))
                    dropped.append(Dropped(table, kind, name, definition))
    except Exception as exc:  # keep them: inserting into indexed tables is only slower
        _log(f"indexes kept ({type(exc).__name__}: {str(exc).splitlines()[0]})")
        return []
    _log(f"{len(dropped)} keys and indexes dropped for the bulk insert, made again after it")
    return dropped


def _recreate_indexes(engine: Engine, dropped: list[Dropped]) -> dict[str, float]:
    times = {}
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("set maintenance_work_mem = '1GB'"))
        for d in dropped:
            started = time.monotonic()
            if d.kind == "constraint":
                conn.execute(
                    text(f'alter table {d.table} add constraint "{d.name}" {d.definition}')
                )
            else:
                # A partitioned index reads back as "ON ONLY" (the parent alone, invalid until
                # each partition has its own): made here on every partition, as the migration did.
                conn.execute(text(d.definition.replace(" ON ONLY ", " ON ", 1)))
            times[f"index {d.name}_s"] = time.monotonic() - started
            _log(f"{d.name} made again in {times[f'index {d.name}_s']:.1f}s")
        for table in sorted({d.table for d in dropped}):  # the same keys and indexes again
            now = {tuple(r) for r in conn.execute(text(KEYS_AND_INDEXES), {"t": table})}
            before = {(d.kind, d.name, d.definition) for d in dropped if d.table == table}
            invalid = conn.execute(text(INVALID_INDEXES), {"t": table}).scalars().all()
            if now != before or invalid:
                raise RuntimeError(
                    f"{table}: keys and indexes differ after the bulk insert {invalid or ''}"
                )
    return times


# The migrations that make the aggregates the loader keeps, each ending with the INSERT …
# SELECT that fills it for a warehouse already holding facts: the bench runs that statement
# as written there, after the facts, as upgrading a warehouse of this size would.
AGGREGATE_MIGRATIONS = (
    "0045_sms.campaign_outcome.sql",
    "0046_sms.campaign_delivery_time.sql",
    "0056_sms.campaign_outcome_hour.sql",
)
# The detection checks (delivery_rate_is_normal and campaigns_are_not_stuck, one step of
# that name), whose cost must follow the traffic of the hours compared.
DETECTION_STEP = "detection_checks"


def backfill_sql(migration: str) -> str:
    """The closing INSERT … SELECT of ``sql/migrations/<migration>``."""
    sql = (SQL_DIR / "migrations" / migration).read_text()
    return sql[sql.rindex("\ninsert into ") + 1 :]


def build_aggregates(engine: Engine) -> dict[str, float]:
    """Fill the aggregates from the facts with the migrations' own statements, timed."""
    times = {}
    with _session(engine) as conn:
        for migration in AGGREGATE_MIGRATIONS:
            started = time.monotonic()
            filled = conn.execute(text(backfill_sql(migration))).rowcount
            conn.commit()
            name = migration.removesuffix(".sql").split("_", 1)[1]
            times[f"backfill {name}_s"] = time.monotonic() - started
            _log(f"{name}: {filled:,} rows in {times[f'backfill {name}_s']:.1f}s")
    return times


@contextmanager
def _session(engine: Engine) -> Iterator[Any]:
    with engine.connect() as conn:
        conn.execute(text("set synchronous_commit = off"))  # bench data: no need to wait
        conn.execute(text("set work_mem = '64MB'"))
        conn.commit()
        yield conn


def build(engine: Engine, rows: int, now: datetime, taken: set[str], jobs: int,
          answers: int, keep_indexes: bool) -> dict[str, object]:  # fmt: skip
    """Fill the migrated warehouse with ``rows`` recipients (see the module docstring)."""
    plans = plan_nixflex(rows, now, taken)
    smsfactor = max(1, len(plans) // 10)
    _log(
        f"building {rows:,} recipients: {len(plans):,} Nixflex campaigns, {smsfactor:,} "
        f"SMSFactor ones, {jobs} insert stream(s)"
    )
    started = time.monotonic()
    phases: dict[str, float] = {}
    with _session(engine) as conn:
        made = _month_partitions(conn, now - HISTORY, now)
        if made:
            _log(f"{made} month partitions made for the history (as a migrated warehouse has)")
        conn.execute(text(INSERT_NIXFLEX_CAMPAIGNS), _nixflex_campaign_params(plans, answers))
        conn.execute(text(INSERT_SMSFACTOR), _smsfactor_params(smsfactor, now))
        conn.execute(
            text(INSERT_PAGES), {"start": now - HISTORY, "stop": now - timedelta(minutes=15)}
        )
        for provider in ("nixflex", "smsfactor"):
            conn.execute(
                text(
                    "insert into sms.account_poll_state values (:p, 'default', :sync, :full, "
                    "'bench-scale: generated history')"
                ),
                {
                    "p": provider,
                    "sync": now - timedelta(minutes=15),
                    "full": now - timedelta(days=1),
                },
            )
        # The setting the generated rows were written with, as a warehouse that has been
        # syncing records it (otherwise the first load would count pseudonyms everywhere).
        conn.execute(
            text((SQL_DIR / "privacy" / "record_setting.sql").read_text()),
            {"setting": AS_RECEIVED_SETTING},
        )
        conn.commit()
    phases["campaigns_s"] = time.monotonic() - started

    dropped = [] if keep_indexes else _drop_indexes(engine)
    lock = threading.Lock()
    done = {"recipients": 0, "transitions": 0}
    rec_started = time.monotonic()

    def insert(batch: list[NixflexPlan]) -> None:
        params = _batch_params(batch)
        with _session(engine) as conn:
            inserted = conn.execute(text(INSERT_RECIPIENTS), params).rowcount
            moved = conn.execute(text(INSERT_TRANSITIONS), params).rowcount
            conn.commit()
        with lock:
            done["recipients"] += inserted
            done["transitions"] += moved
            elapsed = time.monotonic() - rec_started
            _log(
                f"{done['recipients']:>12,} / {rows:,} recipients "
                f"(+{done['transitions']:,} status changes) in {elapsed:,.0f}s: "
                f"{done['recipients'] / elapsed:,.0f} recipients/s"
            )

    with ThreadPoolExecutor(jobs) as pool:
        for future in [pool.submit(insert, batch) for batch in _batches(plans)]:
            future.result()
    phases["recipients_s"] = time.monotonic() - rec_started
    if dropped:
        index_started = time.monotonic()
        phases |= _recreate_indexes(engine, dropped)
        phases["indexes_s"] = time.monotonic() - index_started

    phases |= build_aggregates(engine)

    _log("vacuum analyze…")
    vacuum_started = time.monotonic()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("vacuum analyze"))
        phases["vacuum_analyze_s"] = time.monotonic() - vacuum_started
        checkpoint_started = time.monotonic()
        conn.execute(text("checkpoint"))  # the sync does not pay for the build's writes
        phases["checkpoint_s"] = time.monotonic() - checkpoint_started
        sizes = conn.execute(text(TABLE_SIZES)).all()
        database = conn.execute(text("select pg_database_size(current_database())")).scalar_one()
    seconds = time.monotonic() - started
    return {
        "seconds": round(seconds, 1),
        **{k: round(v, 1) for k, v in phases.items()},
        "recipients": done["recipients"],
        "status_transitions": done["transitions"],
        "recipients_per_s": round(done["recipients"] / phases["recipients_s"]),
        "nixflex_campaigns": len(plans),
        "smsfactor_campaigns": smsfactor,
        "database_gb": round(database / 1e9, 2),
        "table_gb": {name: round(size / 1e9, 3) for name, size in sizes},
    }


# --- timing the pipeline --------------------------------------------------------------------


@dataclass
class Statement:
    label: str
    sql: str
    params: Any
    seconds: float
    ended: float  # time.time()
    plan: list[str] | None = None  # EXPLAIN (no ANALYZE) right after it ran, when slow


PLAN_FROM_S = 0.02  # a statement this slow gets its plan taken as the planner saw it then


@dataclass
class Recorder:
    """Every statement the pipeline sends to Postgres through SQLAlchemy (COPY runs on the
    driver's cursor: not here; nor the Dagster instance's own SQLite). The slowest call of
    each statement also gets its plan at that moment (plain EXPLAIN: planned, not run
    again), since the plan after the run may differ (statistics, visibility map)."""

    statements: list[Statement] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    on: bool = False
    slowest: dict[str, float] = field(default_factory=dict)

    def before(self, conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        conn.info.setdefault("bench_started", []).append(time.perf_counter())

    def after(self, conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        seconds = time.perf_counter() - conn.info["bench_started"].pop()
        if not self.on or conn.dialect.name != "postgresql":
            return
        recorded = Statement(_label(statement), statement, params, seconds, time.time())
        with self.lock:
            self.statements.append(recorded)
            slower = seconds > self.slowest.get(recorded.label, PLAN_FROM_S)
            if slower:
                self.slowest[recorded.label] = seconds
        if slower and isinstance(params, dict) and _explainable(statement):
            try:
                with conn.connection.driver_connection.cursor() as plan_cursor:
                    plan_cursor.execute(f"explain {statement}", params or None)
                    recorded.plan = [row[0] for row in plan_cursor.fetchall()]
            except Exception as exc:  # a plan is a bonus, never a failure
                recorded.plan = [f"(no plan: {type(exc).__name__}: {exc})"]

    def reset(self) -> None:
        self.statements.clear()
        self.slowest.clear()


def _explainable(statement: str) -> bool:
    head = re.sub(r"^(\s*--[^\n]*\n)*\s*", "", statement).lower()
    return head.startswith(("select", "with", "insert", "update", "delete"))


def _sql_labels() -> dict[str, str]:
    """First line of each SQL file → its path, to name the statements a run sends."""
    labels = {}
    for path in SQL_DIR.rglob("*.sql"):
        if path.parent.name == "migrations":
            continue
        first = path.read_text().splitlines()[0].strip()
        labels[first] = str(path.relative_to(SQL_DIR.parent))
    return labels


_LABELS: dict[str, str] = {}


def _label(statement: str) -> str:
    first = statement.lstrip().splitlines()[0].strip() if statement.strip() else ""
    first = re.sub(r"%\((\w+)\)s", r":\1", first)  # as the SQL file spells it
    if first in _LABELS:
        return _LABELS[first]
    flat = re.sub(r"\s+", " ", statement).strip()
    flat = re.sub(r"(limit|offset) \d+", r"\1 N", flat)
    return flat[:110]


@dataclass
class JobRun:
    name: str
    seconds: float
    ok: bool
    steps: dict[str, float]
    checks: list[dict[str, object]]
    statements: list[Statement]
    failures: list[str]


def run_job(job_name: str, recorder: Recorder) -> JobRun:
    """One run of ``job_name`` in this process on an ephemeral instance, as ``make sync``
    runs ``full_sync`` (``pipelines.cli.run_sync``) but keeping the run's step stats."""
    import dagster as dg

    from pipelines.definitions import build_definitions

    job = build_definitions().resolve_job_def(job_name)
    with dg.DagsterInstance.ephemeral() as instance:
        recorder.reset()
        recorder.on = True
        started = time.monotonic()
        result = job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
        seconds = time.monotonic() - started
        recorder.on = False
        stats = instance.get_run_step_stats(result.run_id)
    spans = sorted((s.start_time or 0, s.end_time or 0, s.step_key) for s in stats)
    steps = {key: round(end - start, 3) for start, end, key in spans}
    statements = list(recorder.statements)
    for s in statements:  # which step sent it: steps run one after the other in process
        s.label = f"{_step_at(spans, s.ended)} | {s.label}"
    checks = [
        {
            "check": f"{'/'.join(e.asset_key.path)}:{e.check_name}",
            "passed": e.passed,
            "severity": e.severity.value,
        }
        for e in result.get_asset_check_evaluations()
    ]
    failures = [str(e.step_key) for e in result.get_step_failure_events()]
    return JobRun(job_name, seconds, result.success, steps, checks, statements, failures)


def _step_at(spans: list[tuple[float, float, str]], at: float) -> str:
    """The step running at ``at`` (steps run one after the other), else the nearest one."""
    for start, end, key in spans:
        if start <= at <= end:
            return key
    if not spans:
        return "?"
    return min(spans, key=lambda span: min(abs(at - span[0]), abs(at - span[1])))[2]


def top_statements(statements: list[Statement], limit: int = 12) -> list[dict[str, object]]:
    grouped: dict[str, list[Statement]] = defaultdict(list)
    for s in statements:
        grouped[s.label].append(s)
    ranked = sorted(grouped.items(), key=lambda kv: -sum(s.seconds for s in kv[1]))
    return [
        {
            "statement": label,
            "calls": len(group),
            "total_s": round(sum(s.seconds for s in group), 3),
            "max_s": round(max(s.seconds for s in group), 3),
        }
        for label, group in ranked[:limit]
    ]


def explain_slowest(
    engine: Engine, statements: list[Statement], count: int, floor_s: float, analyze_max_s: float
) -> list[dict[str, object]]:
    """The ``count`` statements that cost the run most in all (at least ``floor_s``), each
    with its slowest call: the plan it had then, and, for a read-only one that took at most
    ``analyze_max_s``, ``EXPLAIN (ANALYZE, BUFFERS)`` now with the same parameters, in a
    read-only transaction that is rolled back."""
    grouped: dict[str, list[Statement]] = defaultdict(list)
    for s in statements:
        grouped[s.label].append(s)
    ranked = sorted(grouped.values(), key=lambda group: -sum(s.seconds for s in group))
    found: list[dict[str, object]] = []
    for group in ranked[:count]:
        total = sum(s.seconds for s in group)
        if total < floor_s:
            break
        slowest = max(group, key=lambda s: s.seconds)
        with_plan = [s for s in group if s.plan]
        at_run = max(with_plan, key=lambda s: s.seconds).plan if with_plan else None
        analyzed = None
        read_only = re.match(r"(\s*--[^\n]*\n)*\s*(select|with)\b", slowest.sql.lower())
        dml = re.search(r"\b(insert|update|delete)\b", slowest.sql.lower())
        if (
            read_only
            and not dml
            and isinstance(slowest.params, dict)
            and slowest.seconds <= analyze_max_s
        ):
            analyzed = _analyze(engine, slowest)
        found.append(
            {
                "statement": slowest.label,
                "calls": len(group),
                "total_s": round(total, 3),
                "slowest_call_s": round(slowest.seconds, 3),
                "params": {k: str(v) for k, v in (slowest.params or {}).items()}
                if isinstance(slowest.params, dict)
                else f"{len(slowest.params)} rows",
                "plan_at_run": at_run,
                "plan_analyzed_after": analyzed,
            }
        )
    return found


def _analyze(engine: Engine, s: Statement) -> list[str] | None:
    with engine.connect() as conn:
        driver = conn.connection.driver_connection
        try:
            with driver.cursor() as cursor:
                cursor.execute("set transaction read only")
                cursor.execute(f"explain (analyze, buffers) {s.sql}", s.params or None)
                return [row[0] for row in cursor.fetchall()]
        except Exception as exc:  # a plan is a bonus, never a failure
            _log(f"not explained ({type(exc).__name__}: {exc}): {s.label[:80]}")
            return None
        finally:
            driver.rollback()


def time_view(engine: Engine, repeat: int = 3) -> list[float]:
    runs = []
    for _ in range(repeat):
        with engine.connect() as conn:
            started = time.monotonic()
            conn.execute(text("select * from sms.campaign_delivery")).all()
            runs.append(round(time.monotonic() - started, 3))
    return runs


ANALYSTS_DOC = SQL_DIR.parent / "docs" / "analysts.md"


def _plan_nodes(node: dict[str, Any]) -> tuple[list[str], set[str]]:
    """Every node type of a JSON plan, and the indexes it reads."""
    nodes, indexes = [node["Node Type"]], {node["Index Name"]} if "Index Name" in node else set()
    for child in node.get("Plans", []):
        more, used = _plan_nodes(child)
        nodes += more
        indexes |= used
    return nodes, indexes


def analyst_queries(engine: Engine) -> list[dict[str, object]]:
    """Every query of docs/analysts.md as written, timed under EXPLAIN ANALYZE on the big
    warehouse, with the indexes its plan used: the analysts' questions checked at scale."""
    found = []
    for number, sql in enumerate(
        re.findall(r"```sql\n(.*?)```", ANALYSTS_DOC.read_text(), flags=re.DOTALL), start=1
    ):
        first = next((ln for ln in sql.splitlines() if ln.startswith("--")), f"query {number}")
        with engine.connect() as conn:
            plan = conn.execute(
                text("explain (analyze, format json) " + sql.strip().rstrip(";"))
            ).scalar_one()[0]
            conn.rollback()
        nodes, indexes = _plan_nodes(plan["Plan"])
        found.append(
            {
                "query": first.lstrip("- ").strip()[:120],
                "ms": round(float(plan["Execution Time"]), 1),
                "indexes": sorted(indexes),
                "seq_scans": nodes.count("Seq Scan"),
            }
        )
        _log(f"analysts' query {number}: {found[-1]['ms']} ms, indexes {sorted(indexes)}")
    return found


DASHBOARD_QUERIES = SQL_DIR.parent / "bench" / "dashboard_queries.json"
DASHBOARD_OK_MS = 1000.0


def shifted(query: dict[str, str], end: date) -> str:
    """The tile's SQL with its range moved to end at ``end`` (same length)."""
    start, stop = date.fromisoformat(query["from"]), date.fromisoformat(query["to"])
    sql = query["sql"].replace(f"'{query['from']}'", f"'{end - (stop - start)}'")
    return sql.replace(f"'{query['to']}'", f"'{end}'")


def _relations_missing(conn: Any, sql: str) -> list[str]:
    named = set(re.findall(r"\b(sms\.\w+)", sql))
    return [
        name
        for name in sorted(named)
        if conn.execute(text("select to_regclass(:n)"), {"n": name}).scalar_one() is None
    ]


def dashboard_queries(engine: Engine, end: date, repeat: int = 3) -> list[dict[str, object]]:
    """Every tile of bench/dashboard_queries.json with its range ending at ``end``: the
    median of ``repeat`` runs (after one that is not counted), and its plan under
    EXPLAIN (ANALYZE, BUFFERS). A tile over a relation this warehouse lacks is skipped."""
    found: list[dict[str, object]] = []
    for query in json.loads(DASHBOARD_QUERIES.read_text()):
        sql = shifted(query, end)
        entry: dict[str, object] = {"tile": query["tile"], "range": query["range"], "sql": sql}
        with engine.connect() as conn:
            missing = _relations_missing(conn, sql)
            if missing:
                found.append({**entry, "skipped": f"no relation {', '.join(missing)}"})
                continue
            conn.execute(text(sql)).all()
            runs = []
            for _ in range(repeat):
                started = time.perf_counter()
                conn.execute(text(sql)).all()
                runs.append(round((time.perf_counter() - started) * 1000, 1))
            plan = [r[0] for r in conn.execute(text(f"explain (analyze, buffers) {sql}"))]
            conn.rollback()
        ms = sorted(runs)[len(runs) // 2]
        found.append({**entry, "ms": ms, "runs_ms": runs, "ok": ms <= DASHBOARD_OK_MS,
                      "plan": plan})  # fmt: skip
        _log(f"dashboard: {query['tile']} ({query['range']}): {ms} ms")
    return found


@contextmanager
def simulator_env(anchor: datetime, nixflex: int, smsfactor: int) -> Iterator[SimulatorProcess]:
    """The simulator in its own process, clock frozen at ``anchor`` (the same bytes for
    every warehouse), and the environment a sync needs to poll it."""
    args = ["--frozen", "--anchor", anchor.isoformat(), "--nixflex-campaigns", str(nixflex),
            "--smsfactor-campaigns", str(smsfactor)]  # fmt: skip
    with SimulatorProcess(*args) as sim:
        saved = dict(os.environ)
        os.environ.update(
            {
                "NIXFLEX_BASE_URL": f"{sim.base_url}/nixflex/v1",
                "NIXFLEX_API_KEY": NIXFLEX_DEMO_KEY,
                "SMSFACTOR_BASE_URL": f"{sim.base_url}/smsfactor",
                "SMSFACTOR_API_TOKEN": SMSFACTOR_DEMO_TOKEN,
            }
        )
        try:
            yield sim
        finally:
            os.environ.clear()
            os.environ.update(saved)


@contextmanager
def warehouse_env(engine: Engine, statement_timeout_s: float) -> Iterator[None]:
    """WAREHOUSE_URL on the bench database for the pipeline, with a statement timeout (0:
    none) so that a query that would run for hours fails the step instead (reported)."""
    saved = os.environ.get("WAREHOUSE_URL")
    url = engine.url
    if statement_timeout_s:
        ms = int(statement_timeout_s * 1000)
        url = url.update_query_dict({"options": f"-c statement_timeout={ms}"})
    os.environ["WAREHOUSE_URL"] = url.render_as_string(hide_password=False)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("WAREHOUSE_URL", None)
        else:
            os.environ["WAREHOUSE_URL"] = saved


def _sync_summary(run: JobRun, calls: dict[str, int]) -> dict[str, object]:
    failed = [c["check"] for c in run.checks if not c["passed"]]
    return {
        "seconds": round(run.seconds, 2),
        "ok": run.ok,
        "steps": run.steps,
        "checks_failed": failed,
        "step_failures": run.failures,
        "vendor_calls": {k: n for k, n in calls.items() if n},
        "top_statements": top_statements(run.statements),
    }


def _calls(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: n - before.get(k, 0) for k, n in after.items()}


def _now(engine: Engine) -> datetime:
    with engine.connect() as conn:
        return conn.execute(text("select now()")).scalar_one()


def _campaigns_loaded(engine: Engine, since: datetime | None) -> dict[str, int]:
    """Campaigns a sync loaded (since ``since``; None: in the last hour)."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "select provider, count(*) from sms.campaign_poll_state "
                "where last_loaded_at >= coalesce(cast(:since as timestamptz), "
                "now() - interval '1 hour') group by 1"
            ),
            {"since": since},
        ).all()
    return {provider: n for provider, n in rows}


def _print_steps(title: str, steps: dict[str, float]) -> None:
    print(f"  {title}")
    for key, seconds in sorted(steps.items(), key=lambda kv: -kv[1]):
        print(f"    {key:<60} {seconds:>9.2f} s")


def _print_statements(title: str, top: list[dict[str, object]], limit: int = 8) -> None:
    print(f"  {title}")
    for row in top[:limit]:
        print(
            f"    {row['total_s']:>8.2f} s  {row['calls']:>4}x  max {row['max_s']:>7.2f} s  "
            f"{str(row['statement'])[:110]}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    parser.add_argument("--jobs", type=int, default=2, help="insert streams while building")
    parser.add_argument(
        "--answers", type=int, default=8, help="raw answers per campaign seen in flight"
    )
    parser.add_argument(
        "--keep-indexes",
        action="store_true",
        help="insert into the indexed tables (slower) instead of dropping the two big "
        "tables' keys and indexes and making them again from their definitions",
    )
    parser.add_argument("--sim-nixflex", type=int, default=SIM_NIXFLEX)
    parser.add_argument("--sim-smsfactor", type=int, default=SIM_SMSFACTOR)
    parser.add_argument("--explain", type=int, default=6, help="slow statements to explain")
    parser.add_argument(
        "--analyze-max",
        type=float,
        default=300.0,
        help="EXPLAIN ANALYZE again after the run only statements that took at most this (s)",
    )
    parser.add_argument(
        "--statement-timeout",
        type=float,
        default=1800.0,
        help="the pipeline's statement_timeout in seconds during the runs (0: none); a "
        "statement that hits it fails its step, and the result says so",
    )
    args = parser.parse_args()
    print(f"bench-scale on {machine()}: {args.rows:,} recipient rows", file=sys.stderr)
    _LABELS.update(_sql_labels())
    recorder = Recorder()
    event.listen(Engine, "before_cursor_execute", recorder.before)
    event.listen(Engine, "after_cursor_execute", recorder.after)

    now = datetime.now(UTC).replace(second=0, microsecond=0)
    anchor = now
    sim_ids = set(
        Simulator(
            nixflex_campaigns=args.sim_nixflex,
            smsfactor_campaigns=args.sim_smsfactor,
            clock=SimClock(anchor),
            anchor=anchor,
        ).nixflex_campaign_ids()
    )
    timeout = args.statement_timeout

    def syncs(engine: Engine, label: str) -> tuple[JobRun, dict[str, Any], JobRun, dict[str, Any]]:
        """The incremental sync (50 campaigns the warehouse has never held), then the next
        one 15 simulated minutes later (the campaigns in flight moved: the merge road)."""
        with simulator_env(anchor, args.sim_nixflex, args.sim_smsfactor) as sim:
            before = sim.calls()
            first = run_job("full_sync", recorder)
            after = sim.calls()
            first_summary = _sync_summary(first, _calls(before, after))
            first_summary["campaigns_loaded"] = _campaigns_loaded(engine, since=None)
            _log(f"{label}: {first.seconds:.1f}s, loaded {first_summary['campaigns_loaded']}")
            first_summary["slow_statements"] = explain_slowest(
                engine, first.statements, args.explain, floor(first), args.analyze_max
            )
            sim.advance(POLL)
            marker = _now(engine)
            second = run_job("full_sync", recorder)
            second_summary = _sync_summary(second, _calls(after, sim.calls()))
            second_summary["campaigns_loaded"] = _campaigns_loaded(engine, since=marker)
            _log(f"{label}, 15 min later: {second.seconds:.1f}s, "
                 f"loaded {second_summary['campaigns_loaded']}")  # fmt: skip
        return first, first_summary, second, second_summary

    def floor(run: JobRun) -> float:
        return max(0.05, run.seconds / 100)

    _log("incremental sync on an EMPTY warehouse…")
    with warehouse_database("scale_empty") as engine, warehouse_env(engine, timeout):
        empty, empty_summary, empty_next, empty_next_summary = syncs(engine, "empty")

    with warehouse_database("scale") as engine, warehouse_env(engine, timeout):
        built = build(engine, args.rows, now, sim_ids, args.jobs, args.answers, args.keep_indexes)
        _log(f"built in {built['seconds']}s ({built['database_gb']} GB); incremental sync…")
        big, big_summary, big_next, big_next_summary = syncs(engine, "big")
        _log("full_checks…")
        checks = run_job("full_checks", recorder)
        checks_summary = {
            "seconds": round(checks.seconds, 2),
            "ok": checks.ok,
            "steps": checks.steps,
            "checks_failed": [c["check"] for c in checks.checks if not c["passed"]],
            "step_failures": checks.failures,
            "top_statements": top_statements(checks.statements),
            "slow_statements": explain_slowest(
                engine, checks.statements, args.explain, floor(checks), args.analyze_max
            ),
        }
        _log(f"full_checks: {checks.seconds:.1f}s; the whole sms.campaign_delivery view…")
        view_runs = time_view(engine)
        analysts = analyst_queries(engine)
        # The dashboards' ranges end the day after the newest generated campaign.
        dashboard = dashboard_queries(engine, (now - NEWEST).date() + timedelta(days=1))
        with engine.connect() as conn:
            rows = conn.execute(text("select count(*) from sms.recipient_delivery")).scalar_one()
            server = conn.execute(text("show server_version")).scalar_one()
            settings = {
                name: conn.execute(text(f"show {name}")).scalar_one()
                for name in ("shared_buffers", "work_mem", "max_wal_size")
            }

    result = {
        "rows": int(rows),
        "incremental_sync_s": round(big.seconds, 2),
        "incremental_sync_empty_s": round(empty.seconds, 2),
        "incremental_ratio": round(big.seconds / empty.seconds, 2),
        "full_check_s": round(checks.seconds, 2),
        "view_s": sorted(view_runs)[len(view_runs) // 2],
        "machine": machine(),
        "steps": {
            "incremental_sync": big.steps,
            "incremental_sync_empty": empty.steps,
            "full_check": checks.steps,
            "next_sync": big_next.steps,
            "next_sync_empty": empty_next.steps,
        },
        "next_sync_s": round(big_next.seconds, 2),
        "next_sync_empty_s": round(empty_next.seconds, 2),
        "view_runs_s": view_runs,
        "statement_timeout_s": timeout or None,
        "postgres": {"version": str(server).split()[0], **settings},
        "simulator": {
            "nixflex_campaigns": args.sim_nixflex,
            "smsfactor_campaigns": args.sim_smsfactor,
        },
        "build": built,
        "incremental_sync": big_summary,
        "incremental_sync_empty": empty_summary,
        "next_sync": big_next_summary,
        "next_sync_empty": empty_next_summary,
        "full_check": checks_summary,
        "analyst_queries": analysts,
        "dashboard_queries": dashboard,
    }
    path = write_result("scale", result)
    _summary(result)
    print(f"written to {path.relative_to(path.parents[2])}")


def _summary(r: dict[str, Any]) -> None:
    b = r["build"]
    print(
        f"\nbench-scale: {r['rows']:,} recipient rows ({b['nixflex_campaigns']:,} Nixflex and "
        f"{b['smsfactor_campaigns']:,} SMSFactor campaigns, {b['status_transitions']:,} status "
        f"changes, {b['database_gb']} GB)\n"
        f"  built in {b['seconds']:,.0f} s ({b['recipients_per_s']:,} recipients/s; vacuum "
        f"analyze {b['vacuum_analyze_s']:,.0f} s)\n"
        f"  incremental sync: {r['incremental_sync_s']:.1f} s big vs "
        f"{r['incremental_sync_empty_s']:.1f} s empty = {r['incremental_ratio']:.2f}x\n"
        f"  next sync (15 simulated minutes later): {r['next_sync_s']:.1f} s big vs "
        f"{r['next_sync_empty_s']:.1f} s empty\n"
        f"  daily full check: {r['full_check_s']:.1f} s\n"
        f"  the whole view sms.campaign_delivery: {r['view_s']:.2f} s (runs {r['view_runs_s']})"
    )
    for label, key in (("incremental sync (big)", "incremental_sync"),
                       ("incremental sync (empty)", "incremental_sync_empty"),
                       ("next sync (big)", "next_sync"),
                       ("next sync (empty)", "next_sync_empty"),
                       ("full check", "full_check")):  # fmt: skip
        part = r[key]
        _print_steps(f"{label}: steps", part["steps"])
        _print_statements(f"{label}: statements by total time", part["top_statements"])
        if part.get("checks_failed"):
            print(f"    checks failed: {', '.join(part['checks_failed'])}")
        if part.get("step_failures"):
            print(f"    STEPS FAILED: {', '.join(part['step_failures'])}")
    for label, key in (("after the sync", "incremental_sync"), ("next sync", "next_sync"),
                       ("in the daily full check", "full_check")):  # fmt: skip
        steps = r[key]["steps"]
        timed = [f"{seconds:.2f} s" for step, seconds in steps.items()
                 if step.endswith(DETECTION_STEP)]  # fmt: skip
        print(f"  detection checks (one step) {label}: {', '.join(timed) or 'not run'}")
    backfill = {k: v for k, v in b.items() if k.startswith("backfill ")}
    print("  aggregates filled by the migrations' statements: " + ", ".join(
        f"{k.removeprefix('backfill ').removesuffix('_s')} {v:,.0f} s" for k, v in backfill.items()
    ))  # fmt: skip
    for q in r.get("dashboard_queries", []):
        said = q.get("skipped") or f"{q['ms']:>8.1f} ms {'ok' if q['ok'] else 'SLOW'}"
        print(f"  dashboard {q['tile'][:40]:<40} {q['range']:<13} {said}")
    for q in r.get("analyst_queries", []):
        print(f"  analysts' query {q['query'][:60]:<60} {q['ms']:>8.1f} ms")
    for key in ("incremental_sync", "full_check"):
        for slow in r[key].get("slow_statements", []):
            plan = slow["plan_analyzed_after"] or slow["plan_at_run"] or []
            which = "analyzed after the run" if slow["plan_analyzed_after"] else "at the run"
            print(
                f"\n  {key}: {slow['statement'][:120]}\n    {slow['calls']} call(s), "
                f"{slow['total_s']} s in all, slowest {slow['slowest_call_s']} s; plan {which}:"
            )
            for line in plan[:PLAN_LINES]:
                print(f"      {line[:160]}")
            if len(plan) > PLAN_LINES:
                print(f"      … {len(plan) - PLAN_LINES} more lines in the JSON")


PLAN_LINES = 30


if __name__ == "__main__":
    main()
