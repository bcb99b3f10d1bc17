"""Keep every notebook's Colab badge and setup cell in line with `_config.yml`.

The repository URL lives in one place, `_config.yml` (`repository.url` and `.branch`). Each
notebook in chapters/, labs/ and solutions/ opens with its title cell, followed by two
generated cells:

1. a markdown cell with an "Open in Colab" badge for that notebook (tag ``launch-badge``);
2. a code cell that installs what is missing -- the course package from the repository and
   keras-cv -- without touching TensorFlow; it does nothing where both are installed
   (tag ``launch-setup``). Its source starts collapsed: JupyterLab shows it as one folded
   line (``jupyter.source_hidden``) and Colab as a form titled by its first line
   (``cellView: form`` and ``# @title``). The book leaves both cells out.

Usage::

    python tools/launch.py sync    # rewrite the two cells (after a fork edits _config.yml)
    python tools/launch.py check   # exit 1 and list notebooks that are out of date
"""

from __future__ import annotations

import os
import sys

import nbformat
import yaml

from notebooks import ROOT, notebooks

BADGE_TAG, SETUP_TAG = "launch-badge", "launch-setup"
KERAS_CV = "keras-cv==0.9.0"


def repository(root: str = ROOT) -> tuple[str, str]:
    """(url, branch) of the course repository, from `_config.yml`."""
    with open(os.path.join(root, "_config.yml")) as f:
        repo = yaml.safe_load(f)["repository"]
    return repo["url"].rstrip("/"), repo.get("branch", "main")


def badge_source(rel_path: str, url: str, branch: str) -> str:
    github = url.split("github.com/", 1)[1]
    colab = f"https://colab.research.google.com/github/{github}/blob/{branch}/{rel_path}"
    return ("[![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"({colab})")


SETUP_TITLE = "# @title Setup: installs the course package where it is missing (click to see how)\n"


def setup_source(url: str, branch: str) -> str:
    return (
        SETUP_TITLE +
        "# Setup for Colab or a fresh machine: installs the course package and keras-cv if they\n"
        "# are missing. TensorFlow, protobuf and NumPy stay exactly as installed (pinned for pip),\n"
        "# so the install cannot break TensorFlow; Keras is upgraded only if it is older than the\n"
        "# course's floor. Does nothing locally. $CVBOOK_SOURCE replaces the repository (a fork,\n"
        "# or file:///path/to/a/checkout).\n"
        "import importlib.metadata, importlib.util, os, subprocess, sys, tempfile\n"
        f"_source = os.environ.get(\"CVBOOK_SOURCE\", \"git+{url}@{branch}\")\n"
        "_missing = [pkg for module, pkg in [\n"
        f"    (\"keras_cv\", \"{KERAS_CV}\"),\n"
        "    (\"cvbook\", f\"cvbook @ {_source}\"),\n"
        "] if importlib.util.find_spec(module) is None]\n"
        "if _missing:\n"
        "    _keep = {d.metadata[\"Name\"]: d.version for d in importlib.metadata.distributions()\n"
        "             if d.metadata[\"Name\"].lower().startswith((\"tensorflow\", \"protobuf\", \"numpy\"))}\n"
        "    with tempfile.NamedTemporaryFile(\"w\", suffix=\".txt\", delete=False) as _pins:\n"
        "        _pins.write(\"\\n\".join(f\"{name}=={version}\" for name, version in _keep.items()))\n"
        "    print(\"installing\", *_missing, \"| keeping\", *_keep)\n"
        "    subprocess.check_call([sys.executable, \"-m\", \"pip\", \"install\", \"-q\", \"-c\", _pins.name,\n"
        "                           *_missing])"
    )


def _expected(rel_path: str, url: str, branch: str):
    badge = nbformat.v4.new_markdown_cell(badge_source(rel_path, url, branch))
    badge.metadata["tags"] = [BADGE_TAG, "remove-cell"]
    setup = nbformat.v4.new_code_cell(setup_source(url, branch))
    setup.metadata["tags"] = [SETUP_TAG, "remove-cell"]
    setup.metadata["jupyter"] = {"source_hidden": True}  # JupyterLab: folded
    setup.metadata["cellView"] = "form"                  # Colab: only the @title line shows
    return badge, setup


def _is_launch(cell) -> bool:
    return bool({BADGE_TAG, SETUP_TAG} & set(cell.metadata.get("tags", [])))


def title_index(cells) -> int:
    """Index of the notebook's title cell: the first markdown cell that is not generated."""
    for i, cell in enumerate(cells):
        if cell.cell_type == "markdown" and not _is_launch(cell):
            return i
    raise ValueError("the notebook has no markdown cell to serve as its title")


def problems(rel_path: str, root: str = ROOT) -> list[str]:
    """What is wrong with one notebook's launch cells (empty when all is well)."""
    url, branch = repository(root)
    nb = nbformat.read(os.path.join(root, rel_path), as_version=4)
    want = _expected(rel_path, url, branch)
    out = []
    if title_index(nb.cells) != 0:
        out.append(f"{rel_path}: cell 0 should be the title (the generated cells follow it)")
    for i, (cell, tag) in enumerate(zip(want, (BADGE_TAG, SETUP_TAG)), start=1):
        have = nb.cells[i] if len(nb.cells) > i else None
        if have is None or tag not in have.metadata.get("tags", []):
            out.append(f"{rel_path}: cell {i} should be the generated '{tag}' cell")
        elif have.source != cell.source:
            out.append(f"{rel_path}: the '{tag}' cell does not match _config.yml "
                       f"({url}@{branch})")
        elif {k: have.metadata.get(k) for k in ("jupyter", "cellView")} != \
                {k: cell.metadata.get(k) for k in ("jupyter", "cellView")}:
            out.append(f"{rel_path}: the '{tag}' cell should start collapsed")
    return out


def sync(rel_path: str, root: str = ROOT) -> bool:
    """Rewrite one notebook's launch cells; returns True if the file changed."""
    url, branch = repository(root)
    path = os.path.join(root, rel_path)
    nb = nbformat.read(path, as_version=4)
    body = [c for c in nb.cells if not _is_launch(c)]
    old = [c for c in nb.cells if _is_launch(c)]
    new = list(_expected(rel_path, url, branch))
    for cell, prev in zip(new, old):
        cell.id = prev.get("id", cell.id)  # keep ids stable across syncs
    title = title_index(body)
    cells = body[:title + 1] + new + body[title + 1:]
    if [(c.source, c.metadata) for c in cells] == [(c.source, c.metadata) for c in nb.cells]:
        return False
    nb.cells = cells
    nbformat.write(nb, path)
    return True


def main(argv: list[str]) -> int:
    cmd = argv[1] if len(argv) > 1 else "check"
    if cmd == "sync":
        changed = [p for p in notebooks() if sync(p)]
        print(f"updated {len(changed)} notebook(s)" + "".join(f"\n  {p}" for p in changed))
        return 0
    if cmd == "check":
        found = [msg for p in notebooks() for msg in problems(p)]
        print("\n".join(found) or f"launch cells OK in {len(notebooks())} notebooks")
        return 1 if found else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
