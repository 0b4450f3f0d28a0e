"""The code itself: pyflakes finds no undefined name, unused import or other slip in it (an
undefined name on a rarely taken path would be a crash in production, not at start)."""
import io
import os

from pyflakes.api import checkRecursive
from pyflakes.reporter import Reporter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _sources():
    for name in sorted(os.listdir(ROOT)):
        path = os.path.join(ROOT, name)
        if name.endswith(".py") or (os.path.isdir(path) and not name.startswith(".")):
            yield path


def test_pyflakes_finds_nothing():
    paths = list(_sources())
    found, errors = io.StringIO(), io.StringIO()
    checkRecursive(paths, Reporter(found, errors))
    assert (found.getvalue(), errors.getvalue()) == ("", "")
