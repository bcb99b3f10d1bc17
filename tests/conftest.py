"""Shared setup for the tests: quiet TensorFlow, the smoke profile, the order of the slow tests.

`tools/` and `benchmarks/` are importable through `pythonpath` in pyproject.toml.

Do not set MPLBACKEND here: notebook kernels inherit the environment, and a non-inline backend
would silently drop every figure from the executed notebooks (and so from the book).
"""

import os
import re

import pytest


# Set before TensorFlow is imported here or in any notebook kernel (kernels inherit them).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["COURSE_PROFILE"] = "smoke"
# With two workers on two cores, each kernel's TensorFlow gets one thread for its ops: with its
# default pools (one thread per core, in every process) the two runs compete for the same
# cores, and measured on the 2-core CI machine a pair of chapters took 13% longer that way
# (265 s against 231 s, with 25% more CPU time). Float sums then run in another order, so the
# numbers differ a little from a default run (GAN scores most: chapter 4's train_step GAN
# scores 109.0 instead of 112.7); every chapter's checks hold either way.
if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")


def pytest_collection_modifyitems(items):
    """Start the slow notebook runs first, longest first (a rough guess: later chapters train
    more). With two workers the short unit tests then fill the gaps at the end, instead of one
    long notebook running alone while the other worker idles. This needs xdist to hand out one
    test at a time (``--maxschedchunk 1`` in the Makefile): by default it gives each worker a
    block of consecutive tests, and the first block held every notebook."""
    def rank(item):
        node = item.nodeid
        if "test_notebooks_run.py" in node:  # chapters, then solutions, then (quick) labs
            return (0, 0 if "[chapters" in node else 1 if "[solutions" in node else 2)
        return (2, 0)

    items.sort(key=rank)  # stable: the order within each group stays as collected
    chapters = [i for i in items if rank(i) == (0, 0)]
    items[:len(chapters)] = sorted(chapters, key=lambda i: i.nodeid, reverse=True)


@pytest.fixture()
def rejects():
    """``rejects(fn, hint)``: calling ``fn`` must raise a LabCheckError whose message holds
    ``hint`` (literally): the check names the learner's mistake."""
    from cvbook.checks import LabCheckError

    def check(fn, hint):
        with pytest.raises(LabCheckError, match=re.escape(hint)):
            fn()
    return check
