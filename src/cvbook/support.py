"""The versions the course supports, and a clear error outside them.

The floors are about a year older than the pinned versions (TensorFlow 2.19, Keras 3.10: the
stack of Colab runtimes of late 2025), so a notebook opened in Colab in the last year finds
what it needs. Keras 3.8 is too old: it lacks ``RandomErasing``, which chapter 3 uses.
CI proves them on every run (``.ci/oldest``: the unit tests and notebooks on exactly these
versions); the weekly drift workflow proves the newest releases. Keep them in line with
``pyproject.toml`` (``[tool.cvbook.support]``) and ``.ci/oldest.txt``; a test checks that
they agree.
"""

from __future__ import annotations

import sys

PYTHON = (3, 10)          # and newer; CI runs 3.11, the drift workflow 3.10 and 3.12 too
TENSORFLOW = (2, 19)
KERAS = (3, 10)
TESTED_PYTHONS = ("3.10", "3.11", "3.12")


def _version(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit()) if not piece.isdigit() else piece
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def problems(python=None, tensorflow: str | None = None, keras: str | None = None) -> list[str]:
    """What in this environment is older than the course supports (empty when all is well).

    Without arguments, looks at the running Python and the installed TensorFlow and Keras."""
    python = tuple(python or sys.version_info[:2])
    if tensorflow is None or keras is None:
        import keras as _keras
        import tensorflow as _tf

        tensorflow = tensorflow or _tf.__version__
        keras = keras or _keras.__version__
    found = []
    if python < PYTHON:
        found.append(f"Python {'.'.join(map(str, python))} is older than the course's "
                     f"{'.'.join(map(str, PYTHON))}")
    for name, have, floor, pkg in (("TensorFlow", tensorflow, TENSORFLOW, "tensorflow"),
                                   ("Keras", keras, KERAS, "keras")):
        if _version(have)[:2] < floor:
            found.append(f"{name} {have} is older than the course's "
                         f"{'.'.join(map(str, floor))}: pip install -U \"{pkg}>="
                         f"{'.'.join(map(str, floor))}\", then restart the kernel")
    return found


def check() -> None:
    """Raise a RuntimeError that says what to upgrade when the stack is too old."""
    found = problems()
    if found:
        raise RuntimeError("This course needs a newer stack:\n- " + "\n- ".join(found)
                           + "\n(In Colab: Runtime > Disconnect and delete runtime gives the "
                             "current versions.)")
