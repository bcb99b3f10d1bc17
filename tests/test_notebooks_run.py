"""Execute every notebook with papermill in the smoke profile.

Chapters and solutions must run green, and the cells marked NBVAL_CHECK_OUTPUT must print
what is committed with them (nbval's comparison, on this run). A shipped lab must fail: its
first check has to stop it with a LabCheckError (a hint for the learner), not with any other
error.
Executed copies land in _build/executed/smoke/ where the book build reuses them. The shipped
labs run in this test process instead of a kernel (nbtools.first_error_in_process): they stop a
few cells in, and in a kernel most of their time went into importing TensorFlow again. Their
code is the same plain Python (a test below holds that); the book shows them unexecuted.
"""

import os
import re

import nbformat
import pytest

import notebooks as nbtools


@pytest.mark.parametrize("rel", nbtools.notebooks())
def test_notebook_runs_in_smoke_profile(rel):
    if rel.startswith("labs" + os.sep):
        err = nbtools.first_error_in_process(rel, "smoke")
        assert err is not None, "the shipped lab passed every check: its exercises are solved"
        assert type(err).__name__ == "LabCheckError", (
            f"the shipped lab should stop at a check, not with {type(err).__name__}: {err}")
        assert "TODO" in str(err)
    else:
        nb = nbformat.read(nbtools.execute(rel, "smoke"), as_version=4)
        assert nbtools.is_fresh(rel, "smoke")
        # the cells marked NBVAL_CHECK_OUTPUT print what was committed with the notebook
        problems = nbtools.checked_differences(rel, nbtools.executed_path(rel, "smoke"))
        assert not problems, f"{rel}: " + "\n".join(problems)
        if rel.startswith("chapters" + os.sep):
            # a kernel with a non-inline matplotlib backend would drop every figure silently
            pngs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
                    if "image/png" in o.get("data", {})]
            assert len(pngs) >= 3, f"only {len(pngs)} figures in the executed chapter"


@pytest.mark.parametrize("rel", [r for r in nbtools.notebooks() if r.startswith("labs" + os.sep)])
def test_shipped_labs_are_plain_python(rel):
    """The shipped labs run in-process above, which needs code a plain Python process runs as
    a kernel would: no IPython magics or shell escapes."""
    nb = nbformat.read(os.path.join(nbtools.ROOT, rel), as_version=4)
    ipython_only = [line for cell in nb.cells if cell.cell_type == "code"
                    for line in cell.source.splitlines()
                    if re.match(r"\s*[%!]", line) or "get_ipython" in line or "display(" in line]
    assert not ipython_only, f"{rel}: IPython-only lines {ipython_only}"
