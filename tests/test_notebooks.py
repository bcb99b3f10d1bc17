"""Static rules every course notebook follows (fast: nothing is executed here)."""

import os
import re
import shutil

import nbformat
import pytest
import yaml

import launch
import notebooks as nbtools

ROOT = nbtools.ROOT
ALL = nbtools.notebooks()
LABS = nbtools.notebooks(["labs"])


def read(rel):
    return nbformat.read(os.path.join(ROOT, rel), as_version=4)


def test_there_are_notebooks_in_every_folder():
    for folder in nbtools.FOLDERS:
        assert any(p.startswith(folder + os.sep) for p in ALL), folder


@pytest.mark.parametrize("rel", ALL)
def test_parameters_cell_selects_the_profile(rel):
    cells = [c for c in read(rel).cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, "exactly one cell tagged 'parameters'"
    assert re.search(r"^profile = None\b", cells[0].source, re.M)


@pytest.mark.parametrize("rel", ALL)
def test_committed_clean_except_nbval_checked_cells(rel):
    for cell in read(rel).cells:
        if cell.cell_type != "code":
            continue
        if nbtools.is_checked(cell):
            assert cell.execution_count is not None, "nbval skips checked cells without one"
            assert cell.outputs, f"nbval-checked cell has no stored output: {cell.source[:60]!r}"
            assert not any(o.output_type == "error" for o in cell.outputs)
        else:
            assert not cell.outputs, f"stored output in an unchecked cell: {cell.source[:60]!r}"
            assert cell.execution_count is None, f"execution count: {cell.source[:60]!r}"


def test_clean_strips_outputs_but_keeps_checked_ones(tmp_path, monkeypatch):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("print(1)"),
                nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(2)")]
    for cell, text in zip(nb.cells, ("1\n", "2\n")):
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
        cell.execution_count = 1
    nbformat.write(nb, tmp_path / "x.ipynb")
    monkeypatch.setattr(nbtools, "ROOT", str(tmp_path))
    assert nbtools.clean("x.ipynb")
    cells = nbformat.read(tmp_path / "x.ipynb", as_version=4).cells
    assert cells[0].outputs == [] and cells[1].outputs[0].text == "2\n"
    assert not nbtools.clean("x.ipynb")  # already clean


def test_checked_differences_compares_what_the_marked_cells_print(tmp_path, monkeypatch):
    """The smoke run replaces nbval's comparison: a marked cell must print what is committed."""
    def notebook(name, printed, marked=True):
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(("# NBVAL_CHECK_OUTPUT\n" if marked else "")
                                              + "print(n)")]
        nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text=t)
                               for t in printed]
        nbformat.write(nb, tmp_path / name)
        return str(tmp_path / name)

    monkeypatch.setattr(nbtools, "ROOT", str(tmp_path))
    notebook("x.ipynb", ["a\n", "b\n"])
    assert nbtools.checked_differences("x.ipynb", notebook("same.ipynb", ["a\nb\n"])) == []
    problems = nbtools.checked_differences("x.ipynb", notebook("other.ipynb", ["a\nc\n"]))
    assert len(problems) == 1 and "a\nc" in problems[0] and "a\nb" in problems[0]
    lost = nbtools.checked_differences("x.ipynb", notebook("unmarked.ipynb", ["a\nb\n"], False))
    assert lost == ["cell 0: not found in the executed copy"]
    notebook("empty.ipynb", [])
    assert "refresh-checked" in nbtools.checked_differences("empty.ipynb",
                                                            notebook("ran.ipynb", ["a\n"]))[0]


@pytest.mark.parametrize("rel", ALL)
def test_launch_badge_and_setup_cell_follow_config(rel):
    assert launch.problems(rel) == []
    url, branch = launch.repository()
    title, badge, setup = read(rel).cells[:3]
    assert title.cell_type == "markdown" and title.source.startswith("# "), \
        "the notebook opens with its title, in JupyterLab and Colab too"
    assert setup.metadata["jupyter"]["source_hidden"] and setup.metadata["cellView"] == "form"
    assert setup.source.startswith("# @title ")  # what Colab shows of the folded cell
    assert f"colab.research.google.com/github/{url.split('github.com/')[1]}/blob/{branch}/{rel}" \
        in badge.source
    installs = setup.source.split("_missing = ")[1].split("] if")[0]  # what it may install
    assert f"git+{url}@{branch}" in setup.source and "tensorflow" not in installs
    assert "CVBOOK_SOURCE" in setup.source and '"-c"' in setup.source  # pins TensorFlow


def test_a_fork_changes_one_line(tmp_path):
    """Editing the URL in _config.yml flags every notebook; `sync` fixes them."""
    for name in ("_config.yml", ALL[0]):
        os.makedirs(tmp_path / os.path.dirname(name), exist_ok=True)
        shutil.copy(os.path.join(ROOT, name), tmp_path / name)
    config = (tmp_path / "_config.yml").read_text()
    url = launch.repository()[0]
    (tmp_path / "_config.yml").write_text(config.replace(url, "https://github.com/me/fork"))
    assert launch.problems(ALL[0], root=str(tmp_path))
    assert launch.sync(ALL[0], root=str(tmp_path))
    assert launch.problems(ALL[0], root=str(tmp_path)) == []
    assert "github.com/me/fork" in (tmp_path / ALL[0]).read_text()


def test_setup_cell_is_a_no_op_when_everything_is_installed(capsys):
    url, branch = launch.repository()
    scope = {}
    exec(launch.setup_source(url, branch), scope)  # cvbook and keras_cv are installed here
    assert scope["_missing"] == []


def test_toc_lists_every_notebook_and_only_existing_files():
    with open(os.path.join(ROOT, "_toc.yml")) as f:
        toc = yaml.safe_load(f)
    files = [ch["file"] for part in toc["parts"] for ch in part["chapters"]]
    for f in files:
        assert any(os.path.exists(os.path.join(ROOT, f + ext)) for ext in (".ipynb", ".md")), f
    assert sorted(f + ".ipynb" for f in files if os.path.exists(os.path.join(ROOT, f + ".ipynb"))) == \
        sorted(p.replace(os.sep, "/") for p in ALL)


@pytest.mark.parametrize("rel", LABS)
def test_solution_is_the_lab_solved(rel):
    """Same cells in the same order; only the cells tagged 'exercise' differ."""
    sol_rel = os.path.join("solutions", os.path.relpath(rel, "labs"))
    assert os.path.exists(os.path.join(ROOT, sol_rel)), f"no solution for {rel}"
    lab, sol = read(rel).cells, read(sol_rel).cells
    assert len(lab) == len(sol)
    exercises = 0
    for a, b in zip(lab, sol):
        if {launch.BADGE_TAG, launch.SETUP_TAG} & set(a.metadata.get("tags", [])):
            continue  # generated per file (the badge names the notebook's own path)
        is_exercise = "exercise" in a.metadata.get("tags", [])
        assert is_exercise == ("exercise" in b.metadata.get("tags", []))
        if is_exercise:
            exercises += 1
            assert "TODO" in a.source and "TODO" not in b.source
        elif a.cell_type == "markdown" and a.source.startswith("# "):
            title = a.source.splitlines()[0]
            assert b.source.splitlines()[0] == title + " (solution)", "the solution's title"
            assert b.source.splitlines()[1:] == a.source.splitlines()[1:]
        else:
            assert a.source == b.source
    checks = [c for c in lab if c.cell_type == "code" and "check" in c.source
              and "exercise" not in c.metadata.get("tags", [])]
    assert exercises >= 3 and len(checks) >= exercises


def test_kernel_stderr_goes_to_the_log_and_python_stderr_stays(tmp_path, capfd):
    import subprocess
    import sys

    log = tmp_path / "kernel.log"
    with nbtools.kernel_stderr_to(str(log)):
        subprocess.run([sys.executable, "-c", "import os; os.write(2, b'C++ noise\\n')"])
        print("progress", file=sys.stderr)
    print("after", file=sys.stderr)
    assert log.read_text() == "C++ noise\n"
    err = capfd.readouterr().err
    assert "progress" in err and "after" in err and "noise" not in err


@pytest.mark.parametrize("rel", ALL)
def test_shown_code_fits_the_book_column(rel):
    """The book shows 100 columns of code (tests/test_browser.py checks the rendered page)."""
    from cvbook.text import WIDTH

    for i, cell in enumerate(read(rel).cells):
        if cell.cell_type != "code" or "remove-cell" in cell.metadata.get("tags", []):
            continue
        wide = [line for line in cell.source.splitlines() if len(line) > WIDTH]
        assert not wide, f"{rel}, cell {i}: {len(wide[0])} columns: {wide[0]!r}"


def test_library_code_the_chapters_show_fits_the_book_column():
    """plots.show_source prints cvbook functions into the book: 100 columns at most."""
    from cvbook.text import WIDTH

    package = os.path.join(ROOT, "src", "cvbook")
    for folder, _, files in os.walk(package):
        for name in sorted(f for f in files if f.endswith(".py")):
            path = os.path.join(folder, name)
            with open(path, encoding="utf-8") as f:
                for n, line in enumerate(f, 1):
                    assert len(line.rstrip("\n")) <= WIDTH, \
                        f"{os.path.relpath(path, ROOT)}:{n} is {len(line.rstrip())} columns"


@pytest.mark.parametrize("rel", ALL)
def test_links_work_in_the_book_jupyterlab_and_colab(rel):
    """MyST roles such as {doc} render only in the book: notebooks link to files instead."""
    for i, cell in enumerate(read(rel).cells):
        if cell.cell_type != "markdown":
            continue
        assert "{doc}`" not in cell.source, \
            f"{rel}, cell {i}: use a relative link, [title](../chapters/name.ipynb)"
        for target in re.findall(r"\]\(([^)#\s:]+\.(?:ipynb|md))(?:#[^)]*)?\)", cell.source):
            path = os.path.normpath(os.path.join(ROOT, os.path.dirname(rel), target))
            assert os.path.exists(path), f"{rel}, cell {i}: link to a missing file {target}"


@pytest.mark.parametrize("rel", ALL)
def test_checked_cells_do_not_glue(rel):
    """A cell whose outputs nbval compares must print the same everywhere. `plots.glue` adds an
    output only where MyST-NB is installed (not on Colab, not on the oldest supported stack),
    so a checked cell that glues fails there: glue in the next cell instead."""
    for i, cell in enumerate(read(rel).cells):
        if cell.cell_type == "code" and "NBVAL_CHECK_OUTPUT" in cell.source:
            assert "glue(" not in cell.source, f"{rel}, cell {i} glues"
            records = [o for o in cell.outputs if any("papermill.record" in k
                                                      for k in o.get("data", {}))]
            assert not records, f"{rel}, cell {i} keeps glue outputs"
