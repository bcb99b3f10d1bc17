"""Printed lines that fit the page: the book shows code and output 100 columns wide."""

from __future__ import annotations

import textwrap

WIDTH = 100  # tests/test_browser.py checks that nothing wider scrolls sideways in the book


def wrap(text: str, indent: str = "  ") -> str:
    """``text`` broken at spaces into lines of at most WIDTH columns, later lines indented."""
    return "\n".join(textwrap.fill(line, WIDTH, subsequent_indent=indent, break_on_hyphens=False,
                                   break_long_words=False)
                     for line in str(text).splitlines() or [""])
