"""A local stand-in for the LINE platform, for tests, benchmarks and the chat simulator.

The bot's own code never imports this package; only simulator mode (``runtime.build_runtime``
without LINE credentials) starts it, and the bot then reaches it over HTTP as it reaches LINE.
Start with ``simulator.platform.LinePlatform`` (the API and webhooks), ``simulator.chat`` (the
chat page) and ``simulator.local.LocalLine`` (both on one port).
"""
