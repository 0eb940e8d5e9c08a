"""Run the simulator in the foreground: ``python -m pipelines.simulator --port 8765 --seed 42``.

The clock is the real wall clock, so campaigns in flight progress as time passes. Prints the
environment variables a pipeline needs to talk to it, then serves until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import threading

from pipelines.simulator import NIXFLEX_DEMO_KEY, SMSFACTOR_DEMO_TOKEN, Simulator, serve


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, serve, and block until asked to stop."""
    parser = argparse.ArgumentParser(prog="python -m pipelines.simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--nixflex-campaigns", type=int, default=12)
    parser.add_argument("--smsfactor-campaigns", type=int, default=12)
    parser.add_argument(
        "--miscounted-nixflex",
        action="append",
        default=[],
        metavar="CAMPAIGN_ID",
        help="report delivered_count one too high and failed_count one too low for this id",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)

    simulator = Simulator(
        seed=args.seed,
        nixflex_campaigns=args.nixflex_campaigns,
        smsfactor_campaigns=args.smsfactor_campaigns,
        miscounted_nixflex=args.miscounted_nixflex,
    )
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with serve(simulator, host=args.host, port=args.port, verbose=args.verbose) as base_url:
        print(f"export NIXFLEX_BASE_URL={base_url}/nixflex/v1", flush=True)
        print(f"export NIXFLEX_API_KEY={NIXFLEX_DEMO_KEY}", flush=True)
        print(f"export SMSFACTOR_BASE_URL={base_url}/smsfactor", flush=True)
        print(f"export SMSFACTOR_API_TOKEN={SMSFACTOR_DEMO_TOKEN}", flush=True)
        while not stop.wait(0.5):
            pass


if __name__ == "__main__":
    main()
