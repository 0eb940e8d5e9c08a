"""``make bench-load``: this project's load path side by side with what people would use
instead, on the same rows, into the same Postgres.

The data: Nixflex campaign details of 10,000 recipients each, served by the simulator and
saved once under ``.data/bench-load/`` (1 M recipient rows by default; ``--rows`` for more).
Every contender but the floor starts from those JSON answers:

* ``project``: land each answer raw and run the loader, exactly as a sync does; then the
  same answers again (a re-sync of unchanged data);
* ``copy``: bare ``COPY`` of the same rows, already flattened to CSV, into a table with the
  same primary key and ``jsonb`` column (the physical floor on this machine);
* ``dlt``: a dlt pipeline, defaults (merge on the primary key) into the same Postgres;
* ``pandas_to_sql``: a DataFrame per answer and ``DataFrame.to_sql(method="multi")``.

Each contender runs in its own process (peak memory is its own) on a fresh database.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path

from sqlalchemy import Engine, text

from bench.common import machine, peak_rss_mb, warehouse_database, write_result
from pipelines.rules import delivery_bucket
from pipelines.simulator import NIXFLEX_DEMO_KEY, SimClock, Simulator
from pipelines.vendors.raw import RawResponse
from pipelines.warehouse.landing import land_now
from pipelines.warehouse.lanes import load_pending
from pipelines.warehouse.recipient_rows import COPY_COLUMNS

DATA_ROOT = Path(__file__).resolve().parents[1] / ".data" / "bench-load"
PER_CAMPAIGN = 10_000
# The columns every contender loads: the facts' own, but the loader's first_seen_at.
COLUMNS = COPY_COLUMNS[: COPY_COLUMNS.index("first_seen_at")]
# The same key as the warehouse's facts, collation "C" included: the floor is
# the same rows into the same kind of table, not into a slower one.
TABLE_DDL = """
create table bench_recipient (
    campaign_id      text collate "C" not null,
    phone            text collate "C" not null,
    status           text not null,
    delivery_bucket  text not null,
    twilio_sid       text,
    error_message    text,
    rendered_message text,
    variables        jsonb,
    sent_at          timestamptz,
    primary key (campaign_id, phone)
)
"""
CONTENDERS = ("project", "copy", "dlt", "pandas_to_sql")


def _log(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


# --- the data -------------------------------------------------------------------------------


def prepare(rows: int) -> Path:
    """Answers of ``rows`` recipients in all (whole campaigns), saved once, plus their CSV."""
    directory = DATA_ROOT / str(rows)
    if (directory / "done").exists():
        return directory
    directory.mkdir(parents=True, exist_ok=True)
    anchor = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    campaigns = -(-rows // PER_CAMPAIGN) + 2  # the simulator keeps a draft and a scheduled one
    sim = Simulator(
        seed=5,
        nixflex_campaigns=campaigns,
        smsfactor_campaigns=1,
        clock=SimClock(start=anchor),
        anchor=anchor,
        active_campaigns=0,
        history=timedelta(days=60),
        nixflex_sizes=(PER_CAMPAIGN, PER_CAMPAIGN),
        rate_limit=None,
    )
    headers = {"Authorization": f"Bearer {NIXFLEX_DEMO_KEY}"}
    written = 0
    with (directory / "recipients.csv").open("w", newline="") as out:
        writer = csv.writer(out)
        for number, campaign_id in enumerate(sim.nixflex_campaign_ids()):
            if written >= rows:
                break
            path = f"/nixflex/v1/sms/campaigns/{campaign_id}"
            body = sim.handle("GET", path, {}, headers).body
            doc = json.loads(body)
            if len(doc["recipients"]) < PER_CAMPAIGN:
                continue  # the draft and the scheduled campaign: not full-sized
            (directory / f"{number:05d}_{campaign_id}.json").write_bytes(body)
            for row in flatten(doc):
                writer.writerow(["" if v is None else v for v in row])
            written += len(doc["recipients"])
            if written % 200_000 == 0:
                _log(f"prepared {written:,} rows")
    (directory / "done").write_text(str(written))
    return directory


def answer_files(directory: Path) -> Iterator[tuple[str, Path]]:
    """(campaign_id, file of its answer) of every saved campaign, in order."""
    for path in sorted(directory.glob("*.json")):
        yield path.stem.split("_", 1)[1], path


def answers(directory: Path) -> Iterator[tuple[str, bytes]]:
    """(campaign_id, answer body) of every saved campaign, in order."""
    for campaign_id, path in answer_files(directory):
        yield campaign_id, path.read_bytes()


def flatten(doc: dict) -> Iterator[tuple[object, ...]]:
    """One campaign answer as recipient rows (the columns every contender loads)."""
    for r in doc["recipients"]:
        yield (
            doc["campaign_id"],
            r["phone"],
            r["status"],
            delivery_bucket(r["status"]),
            r.get("twilio_sid"),
            r.get("error_message"),
            r.get("rendered_message"),
            json.dumps(r.get("variables")),
            r.get("sent_at"),
        )


# --- the contenders -------------------------------------------------------------------------


def _landed(campaign_id: str, body: bytes, at: datetime) -> RawResponse:
    return RawResponse(
        provider="nixflex",
        endpoint="campaign.get",
        path=f"/sms/campaigns/{campaign_id}",
        params={},
        http_status=200,
        content_type="application/json",
        body=body,
        fetched_at=at,
        campaign_id=campaign_id,
    )


def _land(engine: Engine, campaign_id: str, path: Path, at: datetime) -> int:
    # The answer is received (read) and made (hashed) in the landing thread, as the
    # poller's fetch threads receive and make theirs.
    return land_now(engine, _landed(campaign_id, path.read_bytes(), at))


def run_project(engine: Engine, directory: Path) -> dict[str, object]:
    phases: dict[str, float] = {}

    def sync(at: datetime) -> float:
        started = time.monotonic()
        # Landed by a pool of threads, as the poller's fetch threads land them (a few
        # answers in flight at a time, never all of them in memory).
        threads = 4
        with ThreadPoolExecutor(threads) as pool:
            in_flight: deque[Future[int]] = deque()
            for campaign_id, path in answer_files(directory):
                in_flight.append(pool.submit(_land, engine, campaign_id, path, at))
                if len(in_flight) >= 2 * threads:
                    in_flight.popleft().result()
            for future in in_flight:
                future.result()
        landed = time.monotonic()
        load_pending(engine)
        loaded = time.monotonic() - landed
        _log(f"project: landed in {landed - started:.1f}s, loaded in {loaded:.1f}s")
        phases.setdefault("land_s", landed - started)
        phases.setdefault("load_s", loaded)
        return time.monotonic() - started

    first = sync(datetime.now(UTC))
    _log(f"project: first load {first:.1f}s; re-sync of the same answers")
    # As before every contender: the re-sync does not pay for the first load's writes
    # (its dirty pages and asynchronously committed WAL, which the first load's own time
    # does not include either).
    _checkpoint(engine)
    again = sync(datetime.now(UTC) + timedelta(minutes=15))
    return {
        "seconds": first,
        **phases,
        "resync_unchanged_s": again,
        "version": version("sms-delivery-warehouse"),
    }


def run_copy(engine: Engine, directory: Path) -> dict[str, object]:
    with engine.begin() as conn:
        conn.execute(text(TABLE_DDL))
    started = time.monotonic()
    with engine.begin() as conn:
        cursor = conn.connection.driver_connection.cursor()
        sql = f"copy bench_recipient ({', '.join(COLUMNS)}) from stdin (format csv)"
        with (directory / "recipients.csv").open("rb") as source, cursor.copy(sql) as copy:
            while chunk := source.read(1 << 20):
                copy.write(chunk)
    return {"seconds": time.monotonic() - started, "version": f"PostgreSQL {_server(engine)}"}


def run_pandas(engine: Engine, directory: Path) -> dict[str, object]:
    import pandas as pd
    from sqlalchemy.dialects.postgresql import JSONB, TIMESTAMP

    with engine.begin() as conn:
        conn.execute(text(TABLE_DDL))
    types = {"variables": JSONB, "sent_at": TIMESTAMP(timezone=True)}
    started = time.monotonic()
    for _, body in answers(directory):
        doc = json.loads(body)
        frame = pd.DataFrame(list(flatten(doc)), columns=list(COLUMNS))
        frame["variables"] = [r.get("variables") for r in doc["recipients"]]
        frame["sent_at"] = pd.to_datetime(frame["sent_at"], utc=True)
        frame.to_sql("bench_recipient", engine, if_exists="append", index=False,
                     method="multi", chunksize=1000, dtype=types)  # fmt: skip
    return {"seconds": time.monotonic() - started, "version": f"pandas {pd.__version__}"}


def run_dlt(engine: Engine, directory: Path) -> dict[str, object]:
    import dlt

    # dlt insists on a host name; libpq lets ?host= (the embedded server's socket
    # directory) override it.
    url = engine.url.set(drivername="postgresql", host=engine.url.host or "localhost")
    credentials = url.render_as_string(hide_password=False)

    @dlt.resource(name="bench_recipient", write_disposition="merge", primary_key=COLUMNS[:2])
    def recipients() -> Iterator[dict[str, object]]:
        for _, body in answers(directory):
            doc = json.loads(body)
            for r in doc["recipients"]:
                yield {"campaign_id": doc["campaign_id"], **r,
                       "delivery_bucket": delivery_bucket(r["status"])}  # fmt: skip

    with tempfile.TemporaryDirectory() as workdir:
        pipeline = dlt.pipeline(
            pipeline_name="bench_load",
            destination=dlt.destinations.postgres(credentials=credentials),
            dataset_name="bench_dlt",
            pipelines_dir=workdir,
        )
        started = time.monotonic()
        pipeline.run(recipients())
        seconds = time.monotonic() - started
    return {"seconds": seconds, "version": f"dlt {dlt.__version__}"}


def _server(engine: Engine) -> str:
    with engine.connect() as conn:
        return str(conn.execute(text("show server_version")).scalar_one()).split()[0]


def _rows_loaded(engine: Engine, name: str) -> int:
    table = {
        "project": "sms.fact_recipient_delivery",
        "copy": "bench_recipient",
        "pandas_to_sql": "bench_recipient",
        "dlt": "bench_dlt.bench_recipient",
    }[name]
    with engine.connect() as conn:
        return int(conn.execute(text(f"select count(*) from {table}")).scalar_one())  # noqa: S608


def _checkpoint(engine: Engine) -> None:
    """Flush what earlier work left dirty, so that no contender pays for another's writes."""
    with engine.connect() as conn:
        conn.execute(text("checkpoint"))


def run_one(name: str, directory: Path) -> dict[str, object]:
    runner = {"project": run_project, "copy": run_copy, "dlt": run_dlt,
              "pandas_to_sql": run_pandas}[name]  # fmt: skip
    with warehouse_database(f"load_{name}") as engine:
        _checkpoint(engine)
        result = runner(engine, directory)
        rows = _rows_loaded(engine, name)
    seconds = float(result.pop("seconds"))  # type: ignore[arg-type]
    return {
        "name": name,
        "rows": rows,
        "seconds": round(seconds, 2),
        "rows_per_s": round(rows / seconds),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        **{k: round(v, 2) if isinstance(v, float) else v for k, v in result.items()},
    }


# --- the report -----------------------------------------------------------------------------


def _child(name: str, directory: Path, repeat: int) -> dict[str, object]:
    """The contender's median run of ``repeat`` (each in its own process and database)."""
    runs = []
    for attempt in range(1, repeat + 1):
        _log(f"{name}: loading ({attempt}/{repeat})…")
        out = subprocess.run(
            [sys.executable, "-m", "bench.load", "--run", name, "--data", str(directory)],
            check=True,
            stdout=subprocess.PIPE,
            text=True,
        ).stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
    runs.sort(key=lambda run: float(run["seconds"]))  # type: ignore[arg-type]
    median = runs[len(runs) // 2]
    return {**median, "runs_s": [run["seconds"] for run in runs]}


def _table(result: dict[str, object]) -> str:
    contenders = {c["name"]: c for c in result["contenders"]}  # type: ignore[attr-defined]
    floor = contenders["copy"]["rows_per_s"]
    lines = [f"{'contender':<15} {'rows/s':>9} {'x COPY':>7} {'peak RSS':>10}  version"]
    for name in CONTENDERS:
        c = contenders[name]
        lines.append(
            f"{name:<15} {c['rows_per_s']:>9,} {c['rows_per_s'] / floor:>7.2f} "
            f"{c['peak_rss_mb']:>7.0f} MB  {c['version']}"
        )
    project, dlt = contenders["project"], contenders["dlt"]
    lines += [
        "",
        f"project vs dlt (merge): {project['rows_per_s'] / dlt['rows_per_s']:.1f}x (target ≥ 8x)",
        f"project vs bare COPY: {project['rows_per_s'] / floor:.2f}x (target ≥ 0.7x)",
        f"re-sync of unchanged data: {result['resync_unchanged_s']} s = "
        f"{float(result['resync_unchanged_s']) / float(result['first_load_s']):.1%} "  # type: ignore[arg-type]
        f"of the first load ({result['first_load_s']} s; target ≤ 5 %)",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--run", choices=CONTENDERS, help="run one contender (internal)")
    parser.add_argument("--data", type=Path)
    parser.add_argument("--repeat", type=int, default=3, help="runs of project and copy")
    parser.add_argument("--only", nargs="*", choices=CONTENDERS, default=list(CONTENDERS))
    args = parser.parse_args()
    if args.run:
        print(json.dumps(run_one(args.run, args.data)))
        return
    print(f"bench-load on {machine()}: {args.rows:,} recipient rows", file=sys.stderr)
    directory = prepare(args.rows)
    # The quick contenders run --repeat times (median kept: one server hiccup does not
    # decide a ratio); dlt and pandas take minutes per run and run once.
    contenders = [
        _child(name, directory, args.repeat if name in ("project", "copy") else 1)
        for name in args.only
    ]
    project = next(c for c in contenders if c["name"] == "project")
    result = {
        "rows": project["rows"],
        "contenders": [
            {k: c[k] for k in ("name", "rows_per_s", "peak_rss_mb", "version")}
            | {k: c[k] for k in ("rows", "seconds", "runs_s", "land_s", "load_s") if k in c}
            for c in contenders
        ],
        "first_load_s": project["seconds"],
        "resync_unchanged_s": project["resync_unchanged_s"],
        "machine": machine(),
    }
    if set(args.only) == set(CONTENDERS) and args.rows == 1_000_000:
        path = write_result("load", result)
        print(_table(result))
    else:  # e.g. 10 M rows, project and copy only (dlt and pandas would take an hour)
        path = write_result(f"load-{args.rows}-{'-'.join(args.only)}", result)
        print(json.dumps(result, indent=2))
    print(f"written to {path.relative_to(path.parents[2])}")


if __name__ == "__main__":
    main()
