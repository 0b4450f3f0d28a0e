"""The bot's Redis scripts, one file each in storage/scripts/. Each file opens with its
contract: its KEYS and ARGV, what it guarantees, and what it returns. Every key a script
touches is passed in (built by storage/keys.py); no script builds a key name.

A line `--! include NAME` stands for the fragment NAME of the same folder (a function shared
by several scripts)."""
from functools import lru_cache
from pathlib import Path

FOLDER = Path(__file__).with_name("scripts")
_INCLUDE = "--! include "


@lru_cache(maxsize=None)
def source(name: str) -> str:
    lines = []
    for line in (FOLDER / name).read_text(encoding="utf-8").splitlines():
        lines.append(source(line[len(_INCLUDE):].strip()) if line.startswith(_INCLUDE)
                     else line)
    return "\n".join(lines) + "\n"


def register(client, name: str):
    """The script `name` (e.g. "claim_asks.lua") registered on `client`: call it with
    keys= and args= (and client= a pipeline)."""
    return client.register_script(source(name))
