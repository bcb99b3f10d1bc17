"""Build the book from the executed notebooks, warnings as errors (runs after the notebooks)."""

import os

import pytest
import yaml

import book


@pytest.mark.book
def test_book_builds_from_executed_notebooks():
    index = book.build("smoke", strict=True)
    assert os.path.exists(index)
    with open(os.path.join(book.ROOT, "_toc.yml")) as f:
        toc = yaml.safe_load(f)
    for part in toc["parts"]:
        for chapter in part["chapters"]:
            page = os.path.join(book.HTML, chapter["file"] + ".html")
            assert os.path.exists(page), page
            html = open(page, encoding="utf-8").read()
            is_notebook = os.path.exists(os.path.join(book.ROOT, chapter["file"] + ".ipynb"))
            if is_notebook and not chapter["file"].startswith("labs/"):
                assert "colab.research.google.com" in html  # launch button
            if is_notebook and chapter["file"].startswith("chapters/"):
                figures = html.count('src="../_images/')
                assert figures >= 3, f"{page} shows {figures} executed figures"
            if chapter["file"].startswith("solutions/"):
                assert "\u2713" in html, f"{page} shows no passed check"
            if chapter["file"] == "results":
                assert html.count("<table") >= 3  # smoke, full and targets tables
