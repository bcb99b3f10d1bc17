"""The support window: one set of floors in pyproject.toml, cvbook.support and the oldest
stack CI installs (.ci/oldest.txt), and a clear error below them."""

import os
import re
import tomllib

import pytest

from cvbook import support

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _pins():
    with open(os.path.join(ROOT, ".ci", "oldest.txt")) as f:
        return dict(re.findall(r"^([A-Za-z0-9_.-]+)==([^\s#]+)", f.read(), re.M))


def test_the_floors_agree_everywhere():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        project = tomllib.load(f)
    window = project["tool"]["cvbook"]["support"]
    floor = lambda v: ".".join(map(str, v))
    assert window["python"] == floor(support.PYTHON)
    assert window["tensorflow"] == floor(support.TENSORFLOW)
    assert window["keras"] == floor(support.KERAS)
    assert tuple(window["tested_pythons"]) == support.TESTED_PYTHONS
    assert project["project"]["requires-python"] == f">={floor(support.PYTHON)}"
    assert f"keras>={floor(support.KERAS)}" in project["project"]["dependencies"]
    pins = _pins()  # CI's oldest environment installs exactly the floors
    assert pins["tensorflow-cpu"].startswith(floor(support.TENSORFLOW) + ".")
    assert pins["keras"].startswith(floor(support.KERAS) + ".")


def test_the_readme_states_the_window():
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    assert (f"TensorFlow {'.'.join(map(str, support.TENSORFLOW))}" in readme
            and f"Keras {'.'.join(map(str, support.KERAS))}" in readme
            and "Python 3.10" in readme)


def test_this_environment_is_inside_the_window():
    assert support.problems() == []


@pytest.mark.parametrize("kwargs, words", [
    (dict(python=(3, 9), tensorflow="2.21.0", keras="3.15.1"), "Python 3.9 is older"),
    (dict(python=(3, 11), tensorflow="2.15.1", keras="3.15.1"), "TensorFlow 2.15.1 is older"),
    (dict(python=(3, 11), tensorflow="2.21.0", keras="2.15.0"), 'pip install -U "keras>=3.10"'),
    (dict(python=(3, 11), tensorflow="2.21.0rc1", keras="3.7.0"), "Keras 3.7.0 is older"),
])
def test_an_old_stack_is_named_with_the_fix(kwargs, words):
    assert any(words in p for p in support.problems(**kwargs))


def test_versions_at_or_above_the_floor_pass():
    assert support.problems((3, 10), "2.19.0", "3.10.0") == []
    assert support.problems((3, 12), "2.22.0.dev20260101", "3.16.0") == []


def test_wrap_keeps_printed_lines_within_the_book_column():
    from cvbook.text import WIDTH, wrap

    text = wrap("results: " + ", ".join(f"metric_{i}=0.{i:04d}" for i in range(40)))
    lines = text.splitlines()
    assert len(lines) > 1 and all(len(line) <= WIDTH for line in lines)
    assert all(line.startswith("  ") for line in lines[1:])
    assert wrap("short line") == "short line"
    assert wrap("two\nlines") == "two\nlines"
