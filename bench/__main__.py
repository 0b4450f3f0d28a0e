"""`python -m bench [--scenario NAME] [--users N] ...`: run benchmark scenarios against the real
server and print one line per figure. Without --scenario: a quick run of every scenario."""
import argparse
import sys
import time

from bench import scenarios, variants

QUICK = {"idle": 20000, "burst": 5000, "reasks": 5000, "webhooks": 10000, "overload": 1000,
         "day": 2000}
ALIASES = {"memory": "idle", "restart": "idle"}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--scenario", default="all",
                        choices=["all", "burst", "reasks", "idle", "memory", "restart",
                                 "webhooks", "overload", "day"])
    parser.add_argument("--users", type=int, default=None, help="users (quick size if unset)")
    parser.add_argument("--latency", type=float, default=None,
                        help="stand-in latency in seconds (burst/reasks: 0.05)")
    parser.add_argument("--rate-limit", type=int, default=scenarios.LINE_RATE,
                        help="stand-in: 429 above this many requests/s (burst)")
    parser.add_argument("--push-rate", type=float, default=None,
                        help="the bot's PUSH_RATE_PER_SECOND (default: the bot's own)")
    parser.add_argument("--spread", type=float, default=None,
                        help="reasks: seconds the due times spread over (default N/push rate)")
    parser.add_argument("--lead", type=float, default=None,
                        help="burst: seconds from writing the users to their due time")
    parser.add_argument("--duration", type=float, default=None,
                        help="webhooks, overload: seconds measured (5, 10)")
    parser.add_argument("--connections", type=int, default=None,
                        help="webhooks, overload: connections (64, "
                             f"{scenarios.OVERLOAD_CONNECTIONS})")
    parser.add_argument("--workers", type=int, default=None,
                        help="run the bot under gunicorn with this many worker processes")
    parser.add_argument("--cluster", action="store_true",
                        help="on a local Redis Cluster (3 masters, 3 replicas), REDIS_CLUSTER=1")
    parser.add_argument("--times", type=int, default=1,
                        help="idle: daily times per user (each has its own round)")
    parser.add_argument("--profile", action="store_true",
                        help="run the bot under cProfile, stats in .bench/<bot log name>.prof")
    parser.add_argument("--variant", action="append", default=[],
                        choices=sorted(variants.VARIANTS),
                        help="what-if patch of the core for this run (bench/variants.py)")
    args = parser.parse_args(argv)
    scenarios.WORKERS = args.workers
    scenarios.CLUSTER = args.cluster
    if args.variant:
        print(f"# variants: {', '.join(args.variant)} (what-if patches, not the core as is)")

    scenario = ALIASES.get(args.scenario, args.scenario)
    chosen = list(QUICK) if scenario == "all" else [scenario]
    report = scenarios.Report()
    began = time.monotonic()
    for name in chosen:
        n = args.users or QUICK[name]
        if name == "burst":
            scenarios.burst(report, n, latency=0.05 if args.latency is None else args.latency,
                            rate_limit=args.rate_limit, push_rate=args.push_rate,
                            lead=args.lead, profile=args.profile, variants=args.variant)
        elif name == "reasks":
            scenarios.reasks(report, n, latency=0.05 if args.latency is None else args.latency,
                             spread=args.spread, push_rate=args.push_rate, profile=args.profile,
                             variants=args.variant)
        elif name == "idle":
            scenarios.idle(report, n, times=args.times, variants=args.variant)
        elif name == "day":
            scenarios.day(report, n)
        elif name == "webhooks":
            latencies = (0.0, 0.05) if args.latency is None else (args.latency,)
            scenarios.webhooks(report, users=n, connections=args.connections or 64,
                               duration=args.duration or 5.0, latencies=latencies,
                               profile=args.profile, variants=args.variant)
        elif name == "overload":
            scenarios.overload(report, users=n,
                               connections=args.connections or scenarios.OVERLOAD_CONNECTIONS,
                               duration=args.duration or 10.0,
                               latency=0.05 if args.latency is None else args.latency)
        sys.stdout.flush()
    missed = sum(1 for row in report.rows if row[3] == "MISSED")
    print(f"# {len(report.rows)} figures, {missed} goals missed, {time.monotonic() - began:.0f} s")


if __name__ == "__main__":
    main()
