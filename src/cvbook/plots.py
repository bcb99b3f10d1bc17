"""What the notebooks show: image grids, training curves, feature maps, and source code."""

from __future__ import annotations

import inspect
import math

import matplotlib.pyplot as plt
import numpy as np


def _grid(n: int, ncols: int, size: float, title: str | None):
    """A figure of ``n`` square panels, ``ncols`` (at most ``n``) per row, room for a title."""
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    return plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.3 if title else 0)),
                        squeeze=False)


def show_images(images, titles=None, ncols: int = 8, size: float = 1.3, title: str | None = None,
                cmap: str = "gray", vmin: float = 0.0, vmax: float = 1.0):
    """Show images (NHWC, NHW, or a list of HWC / HW arrays; values in [vmin, vmax]) as a grid.

    ``titles`` is an optional list of short strings, one per image (labels, predictions...).
    Pass ``vmin=None, vmax=None`` to scale each image to its own range (feature maps).
    """
    if images is None or isinstance(images, (str, bytes)) or not hasattr(images, "__len__"):
        raise TypeError(f"images must be an array of images (N, H, W[, C]) or a list of "
                        f"(H, W[, C]) arrays, got {type(images).__name__}")
    try:  # a list may mix grey and colour images
        images = [np.asarray(im, dtype="float32") for im in images]
    except (TypeError, ValueError):
        raise TypeError("images must hold numeric arrays (one per image)") from None
    images = [im[..., 0] if im.ndim == 3 and im.shape[-1] == 1 else im for im in images]
    for i, im in enumerate(images):
        if im.ndim not in (2, 3) or (im.ndim == 3 and im.shape[-1] not in (3, 4)):
            raise ValueError(f"images[{i}] has shape {im.shape}: each image must be (H, W), "
                             f"(H, W, 1) or (H, W, 3); pass a batch as (N, H, W[, C])")
    n = len(images)
    if n == 0:
        raise ValueError("images is empty: nothing to show")
    if titles is not None and (isinstance(titles, str) or len(titles) < n):
        raise ValueError(f"titles must be a list with one title per image ({n}), got "
                         f"{titles!r:.60}")
    if isinstance(ncols, bool) or not isinstance(ncols, int) or ncols < 1:
        raise ValueError(f"ncols must be a positive int, got {ncols!r}")
    fig, axes = _grid(n, ncols, size, title)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(np.clip(images[i], vmin, vmax) if vmin is not None else images[i],
                      cmap=cmap, vmin=vmin, vmax=vmax)
            if titles is not None:
                ax.set_title(str(titles[i]), fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    plt.show()


def plot_history(history, metrics=("loss", "accuracy"), title: str | None = None):
    """Plot training curves from a Keras ``History`` (or its ``.history`` dict).

    One panel per metric, training and validation (``val_...``) together, epochs on x.
    """
    hist = getattr(history, "history", history)
    if not isinstance(hist, dict):
        raise TypeError(f"history must be what model.fit returns (a History) or its .history "
                        f"dict, got {type(history).__name__}")
    if isinstance(metrics, str):
        metrics = (metrics,)
    missing = [m for m in metrics if m not in hist]
    metrics = [m for m in metrics if m in hist]
    if not metrics:
        raise ValueError(f"none of the metrics {missing} is in the history; it holds "
                         f"{sorted(hist)}")
    fig, axes = plt.subplots(1, len(metrics), figsize=(4 * len(metrics), 3), squeeze=False)
    for ax, metric in zip(axes.flat, metrics):
        epochs = np.arange(1, len(hist[metric]) + 1)
        ax.plot(epochs, hist[metric], "o-", label="training", markersize=3)
        if f"val_{metric}" in hist:
            ax.plot(epochs, hist[f"val_{metric}"], "s-", label="validation", markersize=3)
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    plt.show()


def show_feature_maps(maps, n: int = 16, ncols: int = 8, titles=None, cmap: str = "viridis",
                      title: str | None = None, size: float = 1.3):
    """Show the first ``n`` channels of one image's feature maps (H, W, C), each scaled alone.

    ``maps`` may also be a batch (N, H, W, C): the first image's maps are shown. ``titles``
    names the channels (default ``ch 0``, ``ch 1``...).
    """
    maps = np.asarray(maps)
    if maps.ndim == 4:
        maps = maps[0]
    if maps.ndim != 3:
        raise ValueError(f"maps must have shape (H, W, C) or (N, H, W, C), got {maps.shape}")
    n = min(n, maps.shape[-1])
    channels = np.moveaxis(maps[..., :n], -1, 0)
    titles = [f"ch {i}" for i in range(n)] if titles is None else list(titles)[:n]
    show_images(channels, titles=titles, ncols=ncols, cmap=cmap, vmin=None, vmax=None,
                title=title, size=size)


def show_source(*objects) -> None:
    """Show the source code of functions or classes, as it is in the file that runs.

    The chapters use it for the course's own building blocks (``cvbook.gan``,
    ``cvbook.diffusion``...), so what a learner reads is exactly what executes. Outside a
    notebook the code is printed.
    """
    for obj in objects:
        obj = inspect.unwrap(obj)  # a cached function shows its own code
        if not (inspect.isfunction(obj) or inspect.isclass(obj) or inspect.ismethod(obj)):
            raise TypeError(f"show_source takes functions, methods or classes, got {obj!r}")
        code = inspect.getsource(obj)
        try:
            from IPython import get_ipython
            from IPython.display import Code, display
        except ImportError:
            get_ipython = None
        if get_ipython is not None and get_ipython() is not None:
            display(Code(code, language="python"))
        else:
            print(code)


def glue(**values) -> None:
    """Hand numbers computed in the run to the book's prose (MyST-NB's ``glue``), where
    ``{glue:text}`name:.3f``` prints them. Shows nothing in the notebook itself; where MyST-NB
    is not installed (Colab, plain Jupyter) it does nothing: the printed lines carry the
    numbers there."""
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return
    for name, value in values.items():
        myst_glue(name, float(value) if isinstance(value, (int, float, np.floating)) else value,
                  display=False)


def show_scenes(images, boxes, labels, class_names=None, ncols: int = 4, size: float = 2.2,
                title: str | None = None, scores=None):
    """Detection scenes with their boxes drawn and labelled: ``boxes`` ``(n, k, 4)`` in pixel
    ``xyxy``, ``labels`` ``(n, k)`` (-1: padding, not drawn), optional ``scores`` ``(n, k)``
    printed after the class name (predictions). One colour per class."""
    from matplotlib import patches

    images = np.asarray(images, "float32")
    boxes, labels = np.asarray(boxes, "float32"), np.asarray(labels)
    if images.ndim != 4 or boxes.shape[:1] != images.shape[:1] or boxes.shape[-1:] != (4,) \
            or labels.shape != boxes.shape[:2]:
        raise ValueError(f"show_scenes needs images (n, H, W, C), boxes (n, k, 4) and labels "
                         f"(n, k); got {images.shape}, {boxes.shape}, {labels.shape}")
    n = len(images)
    fig, axes = _grid(n, int(ncols), size, title)
    colours = plt.get_cmap("tab10")
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(images[i, ..., 0] if images.shape[-1] == 1 else images[i], cmap="gray",
                  vmin=0, vmax=1)
        for j in np.flatnonzero(labels[i] >= 0):
            x1, y1, x2, y2 = boxes[i, j]
            c = int(labels[i, j])
            colour = colours(c % 10)
            ax.add_patch(patches.Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False,
                                           edgecolor=colour, linewidth=1.2))
            text = class_names[c] if class_names is not None else str(c)
            if scores is not None:
                text += f" {float(scores[i][j]):.2f}"
            ax.text(x1 - 0.5, y1 - 1, text, color="white", fontsize=6,
                    bbox=dict(facecolor=colour, edgecolor="none", pad=0.5))
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    plt.show()
