"""A job's concurrency pools, claimed before its run starts, with a bounded wait.

The vendor polls are in Dagster pools of limit 1 (``nixflex_api``, ``smsfactor_api``). A
run executed in process (``make sync``) would otherwise wait for a busy pool inside
Dagster's in-process executor, in a loop that in Dagster 1.13 never sleeps (100 % CPU:
``InstanceConcurrencyContext.interval_to_next_pending_claim_check`` returns at most 0), that
has no bound, and in which SIGTERM and Ctrl-C are only recorded (Dagster acts on them when a
step starts, and none does while the pool is busy).

So ``claimed_pools`` claims every pool of the job for the run id it is about to use, all at
once or none, in a loop that sleeps between tries, lets signals through and gives up after
``SYNC_POOL_WAIT_MINUTES`` with a message naming the run that holds the pool. Each try first
reclaims the slots of runs whose process is gone (pipelines/runs.py). When the run reaches
a pooled step, Dagster finds the slot already claimed for it and goes on; the run's slots
are freed when the step ends, and whatever is left when the context exits.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import dagster as dg
from dagster._core.instance.config import PoolGranularity

from pipelines.runs import describe_run, reclaim_stale_runs

POOL_WAIT_ENV = "SYNC_POOL_WAIT_MINUTES"
DEFAULT_POOL_WAIT = timedelta(minutes=20)
RETRY_SECONDS = (0.5, 1.0, 2.0, 5.0)  # between tries; the last one repeats
REPORT_EVERY = 60.0  # seconds between two "still waiting" lines


class PoolWaitTimeout(Exception):
    """A pool stayed busy for the whole wait; the message names the run holding it."""


@dataclass(frozen=True)
class PoolClaim:
    """One pooled step of a job: the pool and the step that polls through it."""

    pool: str
    step_key: str


def pool_claims(job: dg.JobDefinition) -> list[PoolClaim]:
    """Every step of ``job`` that runs in a pool, in pool order (every sync claims in the
    same order, so two syncs never each hold what the other waits for)."""
    claims = [
        PoolClaim(node.definition.pool, node.name)
        for node in job.nodes_in_topological_order
        if isinstance(node.definition, dg.OpDefinition) and node.definition.pool
    ]
    return sorted(claims, key=lambda c: (c.pool, c.step_key))


def pool_wait_from_env() -> timedelta:
    """``SYNC_POOL_WAIT_MINUTES`` (minutes, fractions allowed), else 20 minutes."""
    text = os.environ.get("SYNC_POOL_WAIT_MINUTES", "").strip()
    if not text:
        return DEFAULT_POOL_WAIT
    try:
        minutes = float(text)
    except ValueError:
        raise ValueError(f"{POOL_WAIT_ENV}={text!r} is not a number of minutes") from None
    if minutes < 0:
        raise ValueError(f"{POOL_WAIT_ENV}={text!r} is negative")
    return timedelta(minutes=minutes)


@contextmanager
def claimed_pools(
    instance: dg.DagsterInstance,
    claims: list[PoolClaim],
    run_id: str,
    wait: timedelta,
    say: Callable[[str], None] = print,
) -> Iterator[None]:
    """Hold every pool in ``claims`` for ``run_id`` while the context lasts. Raises
    ``PoolWaitTimeout`` when one stays busy for ``wait``; frees them all on the way out."""
    granularity = instance.get_concurrency_config().pool_config.pool_granularity
    # At "run" granularity steps claim no slot (the run queue holds whole runs instead).
    limited = [] if granularity == PoolGranularity.RUN else _limited(instance, claims)
    if not limited:
        yield
        return
    minutes = f"{wait.total_seconds() / 60:g} min"
    deadline = time.monotonic() + wait.total_seconds()
    reported = time.monotonic()
    tries = 0
    try:
        while (busy := _try_claim(instance, limited, run_id, say)) is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise PoolWaitTimeout(
                    f"gave up after waiting {minutes} ({POOL_WAIT_ENV}) for pool {busy.pool}, "
                    f"held by {_holders(instance, busy.pool, run_id)}"
                )
            if tries == 0 or time.monotonic() - reported >= REPORT_EVERY:
                reported = time.monotonic()
                say(
                    f"Waiting for pool {busy.pool} (up to {minutes}), "
                    f"held by {_holders(instance, busy.pool, run_id)}"
                )
            time.sleep(min(left, RETRY_SECONDS[min(tries, len(RETRY_SECONDS) - 1)]))
            tries += 1
        yield
    finally:
        instance.event_log_storage.free_concurrency_slots_for_run(run_id)


def _limited(instance: dg.DagsterInstance, claims: list[PoolClaim]) -> list[PoolClaim]:
    """The claims whose pool has a limit, each pool given the instance's default limit first
    when it has none of its own (as Dagster does when a step first claims it)."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    if instance.global_op_concurrency_default_limit is not None:
        for pool in {c.pool for c in claims}:
            storage.initialize_concurrency_limit_to_default(pool)
    limited = {limit.name for limit in storage.get_pool_limits()}
    return [c for c in claims if c.pool in limited]


def _try_claim(
    instance: dg.DagsterInstance,
    claims: list[PoolClaim],
    run_id: str,
    say: Callable[[str], None],
) -> PoolClaim | None:
    """Free the slots of runs whose process is gone, then claim every slot for ``run_id``;
    on the first one refused, give back what was taken and return that claim."""
    reclaim_stale_runs(instance, say)
    storage = instance.event_log_storage
    for claim in claims:
        if not storage.claim_concurrency_slot(claim.pool, run_id, claim.step_key).is_claimed:
            storage.free_concurrency_slots_for_run(run_id)
            return claim
    return None


def _holders(instance: dg.DagsterInstance, pool: str, run_id: str) -> str:
    info = instance.event_log_storage.get_concurrency_info(pool)
    run_ids = [s.run_id for s in info.claimed_slots if s.run_id != run_id]
    if not run_ids:  # free, but promised to runs queued before this one
        run_ids = [s.run_id for s in info.pending_steps if s.run_id != run_id]
    described = [describe_run(instance, r) for r in dict.fromkeys(run_ids)]
    return "; ".join(described) or "no run (the pool was freed meanwhile)"
