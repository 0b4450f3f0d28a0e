"""The bot's decisions, pure: a user's daily times and the state of each one's round, the
wall-clock arithmetic behind them, and the history (記録) of how the rounds ended.

Nothing here does I/O, reads a clock or imports the rest of the bot: storage/ and actors/
both build on it, and its tests need neither Redis nor greenlets."""
