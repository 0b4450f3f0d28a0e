"""Run the real server (`web.py` as __main__), optionally with what-if variants applied and
with a cProfile that the bench switches on and off by signal (so that a profile covers the
measured load only, not start-up):

    python -m bench.runner [--profile OUT.prof] [--variant NAME ...]
        SIGUSR1: start a fresh profile      SIGUSR2: stop it and write OUT.prof
"""
import argparse
import cProfile
import os
import runpy
import signal
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.runner")
    parser.add_argument("--profile", default=None)
    parser.add_argument("--variant", action="append", default=[])
    args = parser.parse_args(argv)
    if args.variant:
        from gevent import monkey
        monkey.patch_all()   # before the variants import redis/urllib3; web.py's own is a no-op
        from bench import variants
        variants.apply(args.variant)
    if args.profile:
        current = []

        def start(*_):
            current[:] = [cProfile.Profile()]
            current[0].enable()

        def stop(*_):
            if current:
                current[0].disable()
                current[0].dump_stats(args.profile)

        signal.signal(signal.SIGUSR1, start)
        signal.signal(signal.SIGUSR2, stop)
    script = os.path.join(ROOT, "web.py")
    sys.argv = [script]
    sys.path.insert(0, ROOT)
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
