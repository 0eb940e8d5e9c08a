"""Run the simulator in the foreground: ``python -m pipelines.simulator --port 8765 --seed 42``.

The clock is the real wall clock (campaigns in flight progress as time passes) unless
``--frozen`` stops it at the anchor; ``POST /_sim/clock`` moves it either way. Prints
``listening on BASE_URL`` first (``--port 0`` picks a free port), then the environment
variables a pipeline needs to talk to it, and serves until Ctrl-C or SIGTERM.

``--drop SENDER=POINTS`` (repeatable) makes the campaigns of SENDER (a Nixflex from_number such
as +447400000000, or an SMSFactor sender such as BESTSHOES) that start sending from the anchor
on deliver POINTS percentage points fewer of their messages; the rest fail ("30007: Message
filtered" on Nixflex, the error counter on SMSFactor).
"""

from __future__ import annotations

import argparse
import signal
import threading
from datetime import datetime, timedelta

from pipelines.simulator import (
    NIXFLEX_DEMO_KEY,
    SMSFACTOR_DEMO_TOKEN,
    DeliveryDrop,
    SimClock,
    Simulator,
    serve,
)
from pipelines.simulator.model import SMSFACTOR_SENDERS


def _instant(text: str) -> datetime:
    try:
        instant = datetime.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 instant: {text!r}") from error
    if instant.tzinfo is None:
        raise argparse.ArgumentTypeError("the anchor needs a time zone (e.g. a trailing Z)")
    return instant


def _drop(text: str) -> tuple[str, float]:
    sender, equals, points = text.rpartition("=")
    try:
        value = float(points)
    except ValueError:
        value = None
    if not equals or not sender or value is None:
        raise argparse.ArgumentTypeError(f"expected SENDER=POINTS, e.g. BESTSHOES=30: {text!r}")
    if not 0 < value <= 100:
        raise argparse.ArgumentTypeError(f"POINTS must be in (0, 100]: {text!r}")
    return sender, value


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, serve, and block until asked to stop."""
    parser = argparse.ArgumentParser(prog="python -m pipelines.simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--nixflex-campaigns", type=int, default=12, metavar="N")
    parser.add_argument("--smsfactor-campaigns", type=int, default=12, metavar="N")
    parser.add_argument(
        "--active", type=int, metavar="N", help="campaigns in flight per vendor (default ~1/6)"
    )
    parser.add_argument(
        "--history-days", type=float, default=6.0, metavar="D", help="span of older campaigns"
    )
    parser.add_argument("--nixflex-sizes", type=int, nargs=2, default=(20, 400), metavar="N")
    parser.add_argument("--smsfactor-sizes", type=int, nargs=2, default=(50, 3000), metavar="N")
    parser.add_argument(
        "--rate-limit", type=int, default=600, metavar="N", help="Nixflex per key (0 = off)"
    )
    parser.add_argument(
        "--smsfactor-rate-limit", type=int, default=0, metavar="N", help="per token (0 = off)"
    )
    parser.add_argument("--rate-window", type=float, default=60.0, metavar="S")
    parser.add_argument(
        "--anchor", type=_instant, metavar="ISO", help="lay campaigns out around this instant"
    )
    parser.add_argument("--frozen", action="store_true", help="freeze the clock at the anchor")
    parser.add_argument(
        "--miscounted-nixflex",
        action="append",
        default=[],
        metavar="CAMPAIGN_ID",
        help="report delivered_count one too high and failed_count one too low for this id",
    )
    parser.add_argument(
        "--drop",
        action="append",
        default=[],
        type=_drop,
        metavar="SENDER=POINTS",
        help="from the anchor on, SENDER's campaigns deliver POINTS percentage points fewer "
        "(repeatable)",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)

    clock = SimClock()
    anchor = args.anchor or clock.now().replace(second=0, microsecond=0)
    if args.frozen:
        clock = SimClock(anchor)
    try:
        simulator = Simulator(
            seed=args.seed,
            nixflex_campaigns=args.nixflex_campaigns,
            smsfactor_campaigns=args.smsfactor_campaigns,
            clock=clock,
            anchor=anchor,
            miscounted_nixflex=args.miscounted_nixflex,
            active_campaigns=args.active,
            history=timedelta(days=args.history_days),
            nixflex_sizes=(args.nixflex_sizes[0], args.nixflex_sizes[1]),
            smsfactor_sizes=(args.smsfactor_sizes[0], args.smsfactor_sizes[1]),
            rate_limit=args.rate_limit or None,
            rate_window=args.rate_window,
            smsfactor_rate_limit=args.smsfactor_rate_limit or None,
            drops=[DeliveryDrop(sender, points, anchor) for sender, points in args.drop],
        )
    except ValueError as error:
        parser.error(str(error))
    senders = [*simulator.nixflex_senders(), *SMSFACTOR_SENDERS]
    unknown = sorted({sender for sender, _ in args.drop} - set(senders))
    if unknown:
        parser.error(
            f"--drop: no campaign is sent by {', '.join(unknown)}; senders: {', '.join(senders)}"
        )
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with serve(simulator, host=args.host, port=args.port, verbose=args.verbose) as base_url:
        print(f"listening on {base_url}", flush=True)
        print(f"export NIXFLEX_BASE_URL={base_url}/nixflex/v1", flush=True)
        print(f"export NIXFLEX_API_KEY={NIXFLEX_DEMO_KEY}", flush=True)
        print(f"export SMSFACTOR_BASE_URL={base_url}/smsfactor", flush=True)
        print(f"export SMSFACTOR_API_TOKEN={SMSFACTOR_DEMO_TOKEN}", flush=True)
        for sender, points in args.drop:
            print(
                f"# delivery drop: {sender} -{points:g} points from {anchor.isoformat()}",
                flush=True,
            )
        while not stop.wait(0.5):
            pass


if __name__ == "__main__":
    main()
