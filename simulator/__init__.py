"""A local stand-in for the LINE platform, for tests, benchmarks and the chat simulator.

The bot never imports this package. Start with ``simulator.platform.LinePlatform``.
"""
