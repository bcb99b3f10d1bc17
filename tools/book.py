"""Build the book from executed notebooks, without running any notebook twice.

    python tools/book.py [--profile smoke|full] [--no-strict]

1. Every chapter and solution is executed with papermill into _build/executed/<profile>/,
   unless an executed copy of its current source is already there (the tests leave one).
2. The book sources are staged in _build/book-src/ with those executed notebooks (labs stay
   as the learner gets them) and notebook execution switched off.
3. `jupyter-book build` renders it to _build/html/ with warnings treated as errors. Its log is
   shown only when it fails; the last line printed is the path of the book.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

import nbformat
import yaml

import notebooks as nbtools

ROOT = nbtools.ROOT
STAGE = os.path.join(ROOT, "_build", "book-src")
HTML = os.path.join(ROOT, "_build", "html")
BOOK_FILES = ("_config.yml", "_toc.yml", "intro.md", "results.md")
BOOK_FOLDERS = ("_static", "_ext")  # the page style, and the course's Sphinx extension


def stage(profile: str) -> None:
    """Copy the book's sources into STAGE, using executed notebooks where they exist."""
    shutil.rmtree(STAGE, ignore_errors=True)
    os.makedirs(STAGE)
    for name in BOOK_FILES:
        shutil.copy(os.path.join(ROOT, name), STAGE)
    for name in BOOK_FOLDERS:
        shutil.copytree(os.path.join(ROOT, name), os.path.join(STAGE, name),
                        ignore=shutil.ignore_patterns("__pycache__"))
    with open(os.path.join(STAGE, "_config.yml")) as f:
        config = yaml.safe_load(f)
    config["execute"]["execute_notebooks"] = "off"  # already executed
    with open(os.path.join(STAGE, "_config.yml"), "w") as f:
        yaml.safe_dump(config, f, sort_keys=False)
    for folder in nbtools.FOLDERS:  # plain pages beside the notebooks (chapters/07_at_scale.md)
        for name in sorted(os.listdir(os.path.join(ROOT, folder))):
            if name.endswith(".md"):
                os.makedirs(os.path.join(STAGE, folder), exist_ok=True)
                shutil.copy(os.path.join(ROOT, folder, name), os.path.join(STAGE, folder))
    for rel in nbtools.notebooks():
        src = nbtools.executed_path(rel, profile)
        if rel.startswith("labs" + os.sep):
            src = os.path.join(ROOT, rel)
        nb = nbformat.read(src, as_version=4)
        for cell in nb.cells:  # papermill's injected-parameters cell is noise in the book
            if "injected-parameters" in cell.metadata.get("tags", []):
                cell.metadata["tags"].append("remove-cell")
        dest = os.path.join(STAGE, rel)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        nbformat.write(nb, dest)


def build(profile: str = "smoke", strict: bool = True) -> str:
    """Execute what is stale, stage, and render the book; returns the path of index.html."""
    for rel in nbtools.notebooks():
        if rel.startswith("labs" + os.sep):
            print(f"as is       {rel} (a lab is shown as the learner gets it)")
        elif nbtools.is_fresh(rel, profile):
            print(f"up to date  {rel} [{profile}]")
        else:
            print(f"executing   {rel} [{profile}]", flush=True)
            nbtools.execute(rel, profile, progress_bar=True)
    stage(profile)
    print("rendering   the book with jupyter-book", flush=True)
    jb = os.path.join(os.path.dirname(sys.executable), "jupyter-book")
    cmd = [jb if os.path.exists(jb) else "jupyter-book", "build", STAGE, "--path-output",
           os.path.join(ROOT, "_build", "book-out")]
    if strict:
        cmd += ["--warningiserror", "--keep-going"]
    # jupyter-book prints pages of Sphinx progress and names its own output folder; show that
    # log only when the build fails, and print one path at the end.
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        log = (done.stdout + done.stderr).splitlines()
        print("\n".join(log[-60:]), file=sys.stderr)
        raise SystemExit(f"jupyter-book failed (exit {done.returncode}); its log ends above")
    shutil.rmtree(HTML, ignore_errors=True)
    shutil.copytree(os.path.join(ROOT, "_build", "book-out", "_build", "html"), HTML)
    index = os.path.join(HTML, "index.html")
    print(f"book: {index}")
    return index


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default=os.environ.get("COURSE_PROFILE", "smoke"))
    parser.add_argument("--no-strict", action="store_true", help="warnings are not errors")
    args = parser.parse_args(argv)
    build(args.profile, strict=not args.no_strict)
    return 0


if __name__ == "__main__":
    sys.exit(main())
