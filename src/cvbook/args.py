"""Argument checks for the package's public functions: a bad value gets an error that names the
argument, says what is expected and shows what was given, before it can fail deep inside
NumPy or Keras.

Every helper returns the value (converted where that is safe: an int-like float stays an
error, ``numpy.int64`` becomes ``int``) and raises ``TypeError`` for a wrong type and
``ValueError`` for a wrong value, or the ``error`` class a caller passes (``DatasetError``).
"""

from __future__ import annotations

import numbers

import numpy as np


def _show(value) -> str:
    text = repr(value)
    if isinstance(value, np.ndarray):
        text = f"an array of shape {value.shape}"
    return text if len(text) <= 60 else text[:57] + "..."


def integer(value, name: str, minimum: int | None = None, maximum: int | None = None,
            none: bool = False, error=None) -> int | None:
    """An int (not a bool, not a str, not 2.5) within [minimum, maximum]; None if ``none``."""
    if value is None and none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise (error or TypeError)(
            f"{name} must be an int{' or None' if none else ''}, got {_show(value)} "
            f"({type(value).__name__})")
    value = int(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        bounds = (f"at least {minimum}" if maximum is None else
                  f"between {minimum} and {maximum}" if minimum is not None else
                  f"at most {maximum}")
        raise (error or ValueError)(f"{name} must be {bounds}, got {value}")
    return value


def number(value, name: str, minimum: float | None = None, maximum: float | None = None,
           error=None) -> float:
    """A finite real number within [minimum, maximum]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise (error or TypeError)(f"{name} must be a number, got {_show(value)} "
                                   f"({type(value).__name__})")
    value = float(value)
    if not np.isfinite(value) or (minimum is not None and value < minimum) or \
            (maximum is not None and value > maximum):
        bounds = " ".join(p for p in (f">= {minimum}" if minimum is not None else "",
                                      f"<= {maximum}" if maximum is not None else "") if p)
        raise (error or ValueError)(f"{name} must be a finite number {bounds}".rstrip()
                                    + f", got {value}")
    return value


def choice(value, name: str, options, error=None):
    """One of ``options``."""
    if value not in options:
        raise (error or ValueError)(f"{name} must be one of {', '.join(map(repr, options))}; "
                                    f"got {_show(value)}")
    return value


def array(value, name: str, ndim=None, dtype="float32", finite: bool = True,
          min_len: int = 1, error=None) -> np.ndarray:
    """A numeric array with ``ndim`` dimensions (an int or a tuple of allowed ones), at least
    ``min_len`` rows, and (if ``finite``) no NaN or inf."""
    if value is None:
        raise (error or TypeError)(f"{name} must be an array, got None")
    try:
        arr = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError):
        raise (error or TypeError)(f"{name} must be a numeric array, got {_show(value)} "
                                   f"({type(value).__name__})") from None
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if allowed is not None and arr.ndim not in allowed:
        what = " or ".join(f"{d}-d" for d in allowed)
        raise (error or ValueError)(f"{name} must be a {what} array, got shape {arr.shape}")
    if arr.ndim and len(arr) < min_len:
        raise (error or ValueError)(f"{name} needs at least {min_len} rows, got {len(arr)}")
    if finite and arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise (error or ValueError)(f"{name} contains NaN or inf "
                                    f"({int(np.sum(~np.isfinite(arr)))} values)")
    return arr


def images(value, name: str = "images", channels=None, value_range=(0.0, 1.0),
           error=None) -> np.ndarray:
    """A batch of images, NHWC float32: 4-d, finite, values in ``value_range`` (with a
    little slack for rounding), ``channels`` channels if given (an int or a tuple)."""
    arr = array(value, name, ndim=4, error=error)
    allowed = (channels,) if isinstance(channels, int) else channels
    if allowed is not None and arr.shape[-1] not in allowed:
        raise (error or ValueError)(f"{name} must have {' or '.join(map(str, allowed))} "
                                    f"channel(s) (NHWC), got shape {arr.shape}")
    if value_range is not None:
        lo, hi = value_range
        if arr.min() < lo - 1e-3 or arr.max() > hi + 1e-3:
            raise (error or ValueError)(
                f"{name} must hold values in [{lo:g}, {hi:g}] (the course's images are floats "
                f"in [0, 1]), got [{arr.min():.3g}, {arr.max():.3g}]")
    return arr


def labels(value, name: str, n: int, num_classes: int | None = None, error=None) -> np.ndarray:
    """``n`` integer class labels in 0 .. num_classes - 1."""
    arr = array(value, name, ndim=1, dtype=None, error=error)
    if arr.dtype.kind not in "iu" and not (arr.dtype.kind == "f" and np.all(arr == np.round(arr))):
        raise (error or TypeError)(f"{name} must hold integer class labels, got dtype {arr.dtype}")
    if len(arr) != n:
        raise (error or ValueError)(f"{name} must hold one label per image ({n}), got {len(arr)}")
    arr = arr.astype("int32")
    if num_classes is not None and (arr.min() < 0 or arr.max() >= num_classes):
        raise (error or ValueError)(f"{name} must be class indices in 0..{num_classes - 1}, got "
                                    f"values from {arr.min()} to {arr.max()}")
    return arr


def positive_ints(**values) -> None:
    """Check several sizes at once: ``positive_ints(latent_dim=latent_dim, width=width)``."""
    for name, value in values.items():
        integer(value, name, 1)


def mask(value, shape, name: str = "mask") -> np.ndarray:
    """A 0/1 mask broadcast to ``shape`` (one mask (1, H, W, C) for all images, or one each)."""
    m = array(value, name, ndim=4)
    if not np.all((m == 0) | (m == 1)):
        raise ValueError(f"{name} must hold 1 (keep the pixel) and 0 (regenerate it) only")
    try:
        return np.broadcast_to(m, shape).astype("float32")
    except ValueError:
        raise ValueError(f"{name} of shape {m.shape} does not fit images of shape {shape}: use "
                         f"(1, H, W, C) for one mask, or one per image") from None


def network(input_shape, num_classes, widths, blocks) -> None:
    """The arguments of a CNN builder: (height, width, channels), at least two classes, a
    non-empty list of filter counts, 1 to 8 blocks per stage."""
    if (not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3
            or not all(isinstance(s, int) and s > 0 for s in input_shape)):
        raise ValueError(f"input_shape must be (height, width, channels) of positive ints, "
                         f"got {_show(input_shape)}")
    integer(num_classes, "num_classes", 2)
    integer(blocks, "blocks", 1, 8)
    if (not isinstance(widths, (tuple, list)) or not widths
            or not all(isinstance(w, int) and w > 0 for w in widths)):
        raise ValueError(f"widths must be a non-empty list of positive ints (filters per "
                         f"stage), got {_show(widths)}")
