"""Execute, clean and refresh the course notebooks.

    python tools/notebooks.py run [--profile full] [PATH ...]   # execute into _build/executed/
    python tools/notebooks.py clean [PATH ...]                   # strip outputs (keep nbval's)
    python tools/notebooks.py refresh-checked [PATH ...]         # re-record nbval's outputs

Executed notebooks go to ``_build/executed/<profile>/<path>`` with the hash of their source in
their metadata, so the book build (and the tests) can reuse them instead of running a notebook
again. Labs are exercises: executing one stops at its first check, as it does for a learner.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import hashlib
import os
import sys

import nbformat

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FOLDERS = ("chapters", "labs", "solutions")
# $CVBOOK_EXECUTED_DIR moves the executed copies (.ci/oldest runs a chapter beside `make test`)
EXECUTED = os.environ.get("CVBOOK_EXECUTED_DIR") or os.path.join(ROOT, "_build", "executed")
CHECK_MARK = "NBVAL_CHECK_OUTPUT"


def notebooks(folders=FOLDERS) -> list[str]:
    """Course notebooks, relative to the repository root."""
    paths = []
    for folder in folders:
        paths += glob.glob(os.path.join(ROOT, folder, "**", "*.ipynb"), recursive=True)
    return sorted(os.path.relpath(p, ROOT) for p in paths if ".ipynb_checkpoints" not in p)


def source_hash(rel_path: str) -> str:
    """SHA-256 of a notebook's cell sources and tags (outputs and ids do not count)."""
    nb = nbformat.read(os.path.join(ROOT, rel_path), as_version=4)
    h = hashlib.sha256()
    for cell in nb.cells:
        h.update(cell.cell_type.encode() + b"\0" + cell.source.encode() + b"\0")
        h.update(",".join(cell.metadata.get("tags", [])).encode() + b"\0")
    return h.hexdigest()


def executed_path(rel_path: str, profile: str) -> str:
    return os.path.join(EXECUTED, profile, rel_path)


def is_fresh(rel_path: str, profile: str) -> bool:
    """True when an executed copy of the current source exists for this profile."""
    out = executed_path(rel_path, profile)
    if not os.path.exists(out):
        return False
    meta = nbformat.read(out, as_version=4).metadata.get("cvbook", {})
    return meta.get("source_sha256") == source_hash(rel_path) and meta.get("ok", False)


@contextlib.contextmanager
def kernel_stderr_to(path: str):
    """Send what kernels write to their standard error (TensorFlow's C++ start-up lines, which
    ignore TF_CPP_MIN_LOG_LEVEL) to ``path`` instead of the terminal, while Python's
    ``sys.stderr`` here (progress bars, errors) stays on the terminal.

    A kernel inherits this process's file descriptor 2, so that descriptor points at the log
    for the duration; ``sys.stderr`` gets a copy of the original descriptor.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "wb") as log:
        os.dup2(log.fileno(), 2)
    terminal = os.fdopen(os.dup(saved), "w", buffering=1)
    previous, sys.stderr = sys.stderr, terminal
    try:
        yield path
    finally:
        terminal.flush()
        sys.stderr = previous
        os.dup2(saved, 2)
        os.close(saved)
        terminal.close()


@contextlib.contextmanager
def profile_env(profile: str):
    """``$COURSE_PROFILE`` set to ``profile`` for the duration (a kernel inherits it too)."""
    previous = os.environ.get("COURSE_PROFILE")
    os.environ["COURSE_PROFILE"] = profile
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("COURSE_PROFILE", None)
        else:
            os.environ["COURSE_PROFILE"] = previous


def execute(rel_path: str, profile: str = "smoke", parameters: dict | None = None,
            progress_bar: bool = False) -> str:
    """Run one notebook with papermill in ``profile``; returns the executed copy's path.

    Raises papermill's ``PapermillExecutionError`` when a cell fails; the executed copy is
    still written (with ``ok: false``), so the failing output can be inspected. The kernel's
    own standard error (below Python: TensorFlow's C++ log) goes to ``<executed copy>.log``.
    """
    import papermill as pm

    out = executed_path(rel_path, profile)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ log in the kernel
    digest = source_hash(rel_path)
    ok = False
    try:
        with profile_env(profile), kernel_stderr_to(out + ".log"):
            pm.execute_notebook(os.path.join(ROOT, rel_path), out,
                                parameters={"profile": profile, **(parameters or {})},
                                cwd=os.path.dirname(os.path.join(ROOT, rel_path)),
                                kernel_name="python3", progress_bar=progress_bar,
                                log_output=False,
                                # the kernel's own log ("running over TCP without encryption")
                                # off; C-level output (TensorFlow's start-up lines) to the
                                # log file above, not into the notebook's outputs
                                extra_arguments=["--log-level=ERROR",
                                                 "--IPKernelApp.capture_fd_output=False"])
        ok = True
    finally:
        if os.path.exists(out):
            nb = nbformat.read(out, as_version=4)
            nb.metadata["cvbook"] = {"source_sha256": digest, "profile": profile, "ok": ok}
            nbformat.write(nb, out)
    return out


def first_error_in_process(rel_path: str, profile: str = "smoke") -> BaseException | None:
    """Run a notebook's code cells in order in *this* process, in a fresh namespace, with its
    parameters cell's ``profile`` set as papermill would set it; return the exception of the
    first cell that fails (None when every cell passes).

    For the shipped labs, which stop at their first check a few cells in: run in a kernel,
    most of their time would go into importing TensorFlow, which a test process holds
    already. Plain Python only (no ``%`` magics or ``!`` shell lines; the test says so).
    """
    nb = nbformat.read(os.path.join(ROOT, rel_path), as_version=4)
    namespace = {"__name__": "__main__"}
    cwd = os.getcwd()
    os.chdir(os.path.dirname(os.path.join(ROOT, rel_path)))  # papermill's cwd
    try:
        with profile_env(profile):
            for i, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                source = cell.source
                if "parameters" in cell.metadata.get("tags", []):
                    source += f"\nprofile = {profile!r}  # injected, as papermill does"
                try:
                    exec(compile(source, f"{rel_path} [cell {i}]", "exec"), namespace)
                except Exception as err:  # the cell's failure is the result
                    return err
        return None
    finally:
        os.chdir(cwd)


def is_checked(cell) -> bool:
    """True for a code cell whose output nbval compares."""
    return cell.cell_type == "code" and CHECK_MARK in cell.source


def _printed(outputs) -> str:
    """What a cell printed and returned, as text: its standard output, then its text results."""
    out = "".join(o.get("text", "") for o in outputs
                  if o.get("output_type") == "stream" and o.get("name") == "stdout")
    return out + "".join(o["data"]["text/plain"] for o in outputs
                         if o.get("output_type") in ("execute_result", "display_data")
                         and "text/plain" in o.get("data", {}))


def checked_differences(rel_path: str, executed: str) -> list[str]:
    """nbval's comparison, done on an executed copy: for every cell marked NBVAL_CHECK_OUTPUT
    whose printed text differs from the output committed with the notebook, a message with
    both. Empty when they all agree (the marked cells print facts that hold in every profile:
    shapes, parameter counts, which weights train)."""
    committed = nbformat.read(os.path.join(ROOT, rel_path), as_version=4)
    ran = {c.source: c.outputs for c in nbformat.read(executed, as_version=4).cells
           if is_checked(c)}
    problems = []
    for i, cell in enumerate(committed.cells):
        if not is_checked(cell):
            continue
        if cell.source not in ran:
            problems.append(f"cell {i}: not found in the executed copy")
            continue
        expected, got = _printed(cell.outputs), _printed(ran[cell.source])
        if not expected:
            problems.append(f"cell {i}: marked {CHECK_MARK} but no output is committed "
                            f"(python tools/notebooks.py refresh-checked {rel_path})")
        elif got != expected:
            problems.append(f"cell {i} printed:\n{got}\ncommitted:\n{expected}")
    return problems


def clean(rel_path: str, keep_from=None) -> bool:
    """Strip outputs and execution counts, except in the cells nbval checks.

    With ``keep_from`` (an executed copy of the same notebook), the checked cells take their
    outputs from it. Returns True if the file changed.
    """
    path = os.path.join(ROOT, rel_path)
    nb = nbformat.read(path, as_version=4)
    before = nbformat.writes(nb)
    fresh = {}
    if keep_from is not None:
        done = nbformat.read(keep_from, as_version=4)
        fresh = {c.source: c.outputs for c in done.cells if is_checked(c)}
    checked = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.execution_count = None
        if is_checked(cell):
            # nbval ignores stored outputs of a cell without an execution count
            checked += 1
            cell.execution_count = checked
            outputs = fresh.get(cell.source, cell.outputs)
            for output in outputs:
                if "execution_count" in output:
                    output["execution_count"] = checked
            cell.outputs = outputs
        else:
            cell.outputs = []
        cell.metadata.pop("execution", None)
        cell.metadata.pop("papermill", None)
    nb.metadata.pop("papermill", None)
    nb.metadata.pop("widgets", None)
    after = nbformat.writes(nb)
    if after != before:
        with open(path, "w") as f:
            f.write(after)
    return after != before


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["run", "clean", "refresh-checked"])
    parser.add_argument("paths", nargs="*", help="notebooks (default: all)")
    parser.add_argument("--profile", default=os.environ.get("COURSE_PROFILE", "smoke"))
    parser.add_argument("--force", action="store_true", help="run even if up to date")
    args = parser.parse_intermixed_args(argv)  # options may follow the paths
    paths = [os.path.relpath(os.path.abspath(p), ROOT) for p in args.paths] or notebooks()
    for rel in paths:
        if args.command == "clean":
            print(("cleaned " if clean(rel) else "clean   ") + rel)
        elif args.command == "run":
            if rel.startswith("labs" + os.sep):
                print(f"skip    {rel} (a lab stops at its first check)")
            elif is_fresh(rel, args.profile) and not args.force:
                print(f"fresh   {rel}")
            else:
                print(f"run     {rel} [{args.profile}]", flush=True)
                execute(rel, args.profile, progress_bar=True)
        else:  # refresh-checked: record the outputs nbval compares (smoke profile)
            print(f"refresh {rel}", flush=True)
            clean(rel, keep_from=execute(rel, "smoke", progress_bar=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
