"""Execute every notebook with papermill in the smoke profile.

Chapters and solutions must run green, and the cells marked NBVAL_CHECK_OUTPUT must print
what is committed with them (nbval's comparison, on this run). A shipped lab must fail: its
first check has to stop it with a LabCheckError (a hint for the learner), not with any other
error.
Executed copies land in _build/executed/smoke/ where the book build reuses them.
"""

import os

import nbformat
import pytest
from papermill.exceptions import PapermillExecutionError

import notebooks as nbtools


@pytest.mark.parametrize("rel", nbtools.notebooks())
def test_notebook_runs_in_smoke_profile(rel):
    if rel.startswith("labs" + os.sep):
        with pytest.raises(PapermillExecutionError) as err:
            nbtools.execute(rel, "smoke")
        assert err.value.ename == "LabCheckError", (
            f"the shipped lab should stop at a check, not with {err.value.ename}: "
            f"{err.value.evalue}")
        assert "TODO" in err.value.evalue
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

