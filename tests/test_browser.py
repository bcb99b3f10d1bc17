"""The built book read in headless Chromium at 1280x900 (tools/browser.py), as a reader would.

The first test plants one of each problem in a tiny site and expects the checker to name it
(so the book test below cannot pass by seeing nothing); the second reads every page of the
book that tests/test_book.py built.
"""

import os

import pytest

import book
import browser

# Chromium and Selenium belong to the book's toolchain: these run with the book build in
# `make test` (after the notebooks), not on the oldest stack that has no browser.
pytestmark = pytest.mark.book

PAGE = """<!DOCTYPE html><html><head>{head}</head><body>
<article class="bd-article" style="width: 600px">{body}</article></body></html>"""


def _site(tmp_path, pages):
    for name, (head, body) in pages.items():
        (tmp_path / name).write_text(PAGE.format(head=head, body=body), encoding="utf-8")
    return str(tmp_path)


def test_checker_names_each_planted_problem(tmp_path):
    long_line = "x = " + "1 + " * 60 + "1"
    site = _site(tmp_path, {
        "index.html": ("", '<p><a href="good.html#there">fine</a></p><pre>short = 1</pre>'),
        "good.html": ("", '<h1 id="there">fine</h1>'),
        "bad.html": (
            '<script src="https://cdn.example.org/lib.js"></script>'
            '<script>undefinedFunction();</script>',
            f'<pre>{long_line}</pre>'
            '<div class="math notranslate nohighlight">\\[x_t = \\sqrt{a}\\]</div>'
            '<img src="missing.png">'
            '<a href="nowhere.html">a</a> <a href="good.html#gone">b</a>'),
    })
    problems = browser.check_book(site)
    assert not [p for p in problems if not p.startswith("bad.html")], problems
    for expected in ("scrolls sideways", "x = 1 + 1", "math not typeset", "x_t",
                     "image did not load: missing.png", "another host: https://cdn.example.org",
                     "console severe", "undefinedFunction", "missing page: /nowhere.html",
                     "missing anchor: /good.html#gone"):
        assert any(expected in p for p in problems), (expected, problems)


def test_missing_book_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="make book"):
        browser.check_book(str(tmp_path))


def test_every_page_reads_cleanly_in_chromium():
    index = os.path.join(book.HTML, "index.html")
    if not os.path.exists(index):  # run alone: build it (tests/test_book.py does it first)
        book.build("smoke", strict=True)
    pages = browser.pages(book.HTML)
    assert len(pages) >= 20, pages
    problems = browser.check_book(book.HTML)
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)


def test_jupyterlab_checker_names_a_raw_role_and_an_open_setup_cell(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# A title\n\nSee {doc}`../chapters/x` and "
                                      "[chapter 2](other.ipynb)."),
        nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("y = 2"),
        nbformat.v4.new_markdown_cell("text"), nbformat.v4.new_code_cell("z = 3")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, tmp_path / "lab.ipynb")
    problems = browser.check_jupyterlab("lab.ipynb", root=str(tmp_path))
    assert any("raw text: {doc}../chapters/x" in p for p in problems), problems
    assert any("not folded" in p for p in problems), problems
    assert not any("first heading" in p for p in problems), problems


def test_a_lab_opens_cleanly_in_jupyterlab():
    """The first screen where labs are done: title, working links, the setup code folded."""
    problems = browser.check_jupyterlab("labs/lab1_cnn.ipynb")
    assert not problems, "\n".join(problems)
