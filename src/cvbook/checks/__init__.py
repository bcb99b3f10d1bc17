"""Automatic checks for the labs.

Each check either prints a short "passed" line or raises :class:`LabCheckError` with a hint in
plain words: what is wrong and how to fix it. Topic checks live in submodules
(``cvbook.checks.cnn``...).
"""

from __future__ import annotations

import functools
import os
import traceback

from ..text import wrap

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class LabCheckError(AssertionError):
    """A lab answer is not right yet. The message is a hint for the learner."""

    def __str__(self) -> str:
        return "\n" + "\n".join(f"  {line}" for line in super().__str__().splitlines())


def expect(condition, hint: str) -> None:
    """Raise :class:`LabCheckError` with ``hint`` unless ``condition`` holds."""
    if not condition:
        raise LabCheckError(hint)


def require(value, name: str):
    """Reject a TODO left undone (``None`` or ``...``) with a hint that names it."""
    if value is None or value is Ellipsis:
        raise LabCheckError(f"`{name}` is still a TODO: fill it in the cell above, "
                            f"run that cell, then run this check again.")
    return value


def call(fn, name: str, *args):
    """The learner's ``fn(*args)``: a stub (None, NotImplementedError, no ``return``) or a
    value that is not a function gets a hint that names ``name`` and says what to do."""
    require(fn, name)
    expect(callable(fn), f"`{name}` should be a function (`def {name}(...):`), got "
           f"{type(fn).__name__}.")
    try:
        out = fn(*args)
    except NotImplementedError:
        raise LabCheckError(f"`{name}` is still a TODO (it raises NotImplementedError): write "
                            f"its body in the cell above, run that cell, then run this check "
                            f"again.") from None
    if out is None or out is Ellipsis:
        raise LabCheckError(f"`{name}` returned None: it is still a TODO, or its last line "
                            f"lacks `return`. Fill it in, run the cell, then this check again.")
    return out


def layers_of(model) -> list:
    """A model's layers without its InputLayer."""
    import keras

    return [l for l in model.layers if not isinstance(l, keras.layers.InputLayer)]


def activation_name(layer) -> str:
    """The name of a layer's activation ('relu', 'sigmoid', 'linear'...)."""
    act = getattr(layer, "activation", None)
    return getattr(act, "__name__", str(act))


def passed(what: str) -> None:
    """Print the success line of a check."""
    print(wrap(f"\u2713 {what}"))


def _learner_frame(err: BaseException) -> str:
    """Where in the learner's own code ``err`` happened ('' if it happened elsewhere)."""
    frames = [f for f in traceback.extract_tb(err.__traceback__)
              if "site-packages" not in f.filename and not f.filename.startswith(_PACKAGE)
              and "/lib/python" not in f.filename]
    if not frames:
        return ""
    f = frames[-1]
    return f"\nIt happened in your code, line {f.lineno}: {(f.line or '').strip()}"


def guarded(check):
    """Make a check safe to hand a half-finished answer: whatever the answer does (None where a
    function belongs, a model Keras cannot build, a function that crashes), the learner gets
    a LabCheckError with a hint, never a traceback from deep inside Keras or NumPy."""
    @functools.wraps(check)
    def run(*args, **kwargs):
        try:
            return check(*args, **kwargs)
        except LabCheckError:
            raise
        except Exception as err:  # noqa: BLE001 - any failure of a half-finished answer
            message = str(err).strip().splitlines()[0][:200] if str(err).strip() else ""
            raise LabCheckError(
                f"{check.__name__} could not use your answer: it raised "
                f"{type(err).__name__}: {message}"
                f"{_learner_frame(err)}\nCheck that every TODO in the exercise cell is filled "
                f"in and that the cell ran without errors; then run this check again.") from None
    return run
