"""The code itself: pyflakes finds no undefined name, unused import or other slip in it (an
undefined name on a rarely taken path would be a crash in production, not at start)."""
import io
import os

from pyflakes.api import checkRecursive
from pyflakes.reporter import Reporter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKIPPED = {".venv", ".data", ".bench", ".git", "node_modules"}


def test_pyflakes_finds_nothing():
    paths = [os.path.join(ROOT, name) for name in sorted(os.listdir(ROOT))
             if name not in SKIPPED and (name.endswith(".py") or os.path.isdir(
                 os.path.join(ROOT, name)) and not name.startswith("."))]
    found, errors = io.StringIO(), io.StringIO()
    checkRecursive(paths, Reporter(found, errors))
    assert (found.getvalue(), errors.getvalue()) == ("", "")
