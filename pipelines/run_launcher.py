"""The run launcher of the local Dagster instance: Dagster's default one, plus a run worker
health check, so that the run monitoring of ``make dev``'s daemon fails a run whose process
was killed instead of leaving it STARTED, holding its vendor pool, for good.

Dagster's ``DefaultRunLauncher`` (runs in a subprocess of the code server) has no health
check, so its run monitoring can only time runs out. This one answers from the process the
run was executing in (pipelines/runs.py): a ``make dev`` run's worker, or a ``make sync``
process. A run whose process cannot be found out (another host, no start event yet) is
reported running: run monitoring's timeouts still apply to it.
"""

from __future__ import annotations

from dagster import DagsterInstance, DagsterRun, DefaultRunLauncher
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus

from pipelines.runs import worker_of


class LocalRunLauncher(DefaultRunLauncher):
    """``DefaultRunLauncher`` that tells whether a run's process is still alive."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        instance: DagsterInstance = self._instance
        record = instance.get_run_record_by_id(run.run_id)
        worker = worker_of(instance, record) if record else None
        alive = worker.is_alive() if worker else None
        if worker is not None and alive is False:
            return CheckRunHealthResult(
                WorkerStatus.FAILED,
                f"the {worker} that executed this run is gone (killed or crashed)",
            )
        return CheckRunHealthResult(WorkerStatus.RUNNING, str(worker or "process unknown"))
