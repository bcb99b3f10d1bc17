"""Shared setup for the tests: quiet TensorFlow, the smoke profile, and the tools on the path.

Do not set MPLBACKEND here: notebook kernels inherit the environment, and a non-inline backend
would silently drop every figure from the executed notebooks (and so from the book).
"""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))

# Set before TensorFlow is imported here or in any notebook kernel (kernels inherit them).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["COURSE_PROFILE"] = "smoke"


def pytest_collection_modifyitems(items):
    """Start the slow notebook runs first, longest first (a rough guess: later chapters train
    more). With two workers the short unit tests then fill the gaps at the end, instead of one
    long notebook running alone while the other worker idles."""
    def rank(item):
        node = item.nodeid
        if "test_notebooks_run.py" in node:  # chapters, then solutions, then (quick) labs
            return (0, 0 if "[chapters" in node else 1 if "[solutions" in node else 2)
        if "test_full_profile_offline.py" in node:
            return (1, 0)
        return (2, 0)

    items.sort(key=rank)  # stable: the order within each group stays as collected
    chapters = [i for i in items if rank(i) == (0, 0)]
    items[:len(chapters)] = sorted(chapters, key=lambda i: i.nodeid, reverse=True)
