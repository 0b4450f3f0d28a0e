"""How a start that cannot go on ends, whatever stopped it (a bad setting, a busy port, a Redis
out of reach): one line on stderr naming the cause and the fix, exit status 2, no traceback.
Whoever started something stops it on the way out (`raise refuse_start(...)` unwinds
through their `finally`/ExitStack)."""
import sys

EXIT_STATUS = 2


class StartRefused(SystemExit):
    def __init__(self, line: str):
        super().__init__(EXIT_STATUS)
        self.line = line

    def __str__(self) -> str:
        return self.line


def refuse_start(cause: str, fix: str) -> StartRefused:
    """Write `usa-reminder cannot start: <cause>. Fix: <fix>.` to stderr now and return the
    exception to raise: the line comes first, whatever is stopped on the way out after it."""
    line = f"usa-reminder cannot start: {cause}. Fix: {fix}."
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
    return StartRefused(line)
