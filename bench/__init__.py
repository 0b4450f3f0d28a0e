"""Benchmarks for usa-reminder: the real server (`python web.py`) in a subprocess, a private
Redis, a lean LINE stand-in in its own process, and a driver. `make bench` / `python -m bench`.

Nothing here is imported by the bot."""
