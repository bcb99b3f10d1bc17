"""Automatic checks for the labs.

Each check either prints a short "passed" line or raises :class:`LabCheckError` with a hint in
plain words: what is wrong and how to fix it. Topic checks live in submodules
(``cvbook.checks.cnn``...).
"""

from __future__ import annotations


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
    print(f"\u2713 {what}")
