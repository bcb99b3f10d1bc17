"""Checks for the object-detection lab: the box arithmetic of a detector, written by hand.

Each check runs the learner's function on cases designed so that every classic mistake gives
its own wrong answer, compares with the library (Keras' ``compute_iou``, the reference
:mod:`cvbook.detection`), and when the answer is wrong, computes what each known mistake would
have returned: the one that matches is named in plain words.
"""

from __future__ import annotations

import numpy as np

from . import LabCheckError, call, expect, guarded, passed, require

IMAGE_SIZE, STRIDE, NUM_CLASSES = 64, 4, 10  # the lab's scenes, grid and classes
MIN_SCORE, IOU_THRESHOLD = 0.3, 0.5  # the decoding threshold and NMS overlap of the cases


def _call(fn, name: str, *args):
    """The learner's ``fn(*args)``; a stub (None, NotImplementedError, no return) gets a hint
    that says it is still a TODO, an index out of range a hint about grid units, and arrays
    that do not broadcast a hint about pairwise comparisons."""
    try:
        out = call(fn, name, *args)
    except IndexError as err:
        raise LabCheckError(f"`{name}` raised IndexError: {str(err)[:120]}. An index is out of "
                            f"range: are rows and columns in grid cells (pixels / stride, "
                            f"0..{IMAGE_SIZE // STRIDE - 1} here), not in pixels? Are the "
                            f"padding rows (label -1) skipped?") from None
    except ValueError as err:
        if "broadcast" not in str(err):
            raise
        raise LabCheckError(f"`{name}` raised ValueError: {str(err)[:120]}. It gets arrays of "
                            f"different lengths (n boxes and m boxes): to compare every box "
                            f"of one with every box of the other, index them as a[:, None] "
                            f"(n, 1, ...) and b[None, :] (1, m, ...).") from None
    return out


def _array(value, name: str, shape: tuple, what: str) -> np.ndarray:
    """``value`` as a float array of ``shape`` (None: any length), with a hint if it is not."""
    try:
        arr = np.asarray(value, dtype="float64")
    except (TypeError, ValueError):
        raise LabCheckError(f"{name} should be {what}, got {type(value).__name__}.") from None
    expect(arr.ndim == len(shape) and all(s is None or a == s for a, s in zip(arr.shape, shape)),
           f"{name} should be {what}; yours has shape {arr.shape}.")
    expect(np.isfinite(arr).all(), f"{name} holds NaN or infinite values: is a division by "
           f"zero (an empty box, a zero union) left unguarded?")
    return arr


def _named(candidates: dict, got, reference, close) -> None:
    """Raise the hint of the first known mistake whose result matches ``got``."""
    for hint, fn in candidates.items():
        wrong = fn()
        if not close(wrong, reference) and close(got, wrong):
            raise LabCheckError(hint)


# --- Exercise 1: IoU ---------------------------------------------------------------------------

IOU_A = np.array([[10, 10, 30, 40], [0, 0, 20, 20]], "float32")
IOU_B = np.array([[20, 20, 40, 45], [10, 10, 30, 40], [50, 5, 60, 15], [25, 45, 45, 60]],
                 "float32")


def reference_iou(a, b) -> np.ndarray:
    """Keras' pairwise IoU of xyxy boxes: ``(n, 4)`` and ``(m, 4)`` -> ``(n, m)``."""
    import keras

    return np.asarray(keras.ops.convert_to_numpy(
        keras.utils.bounding_boxes.compute_iou(np.asarray(a, "float32"), np.asarray(b, "float32"),
                                               bounding_box_format="xyxy")), "float64")


def _iou_variant(a, b, mistake: str) -> np.ndarray:
    """What an IoU with one classic ``mistake`` returns."""
    a, b = np.asarray(a, "float64")[:, None], np.asarray(b, "float64")[None]
    if mistake == "xywh":  # the corners read as x, y, width, height
        a = np.concatenate([a[..., :2], a[..., :2] + a[..., 2:]], -1)
        b = np.concatenate([b[..., :2], b[..., :2] + b[..., 2:]], -1)
    one = 1.0 if mistake == "plus_one" else 0.0
    lo, hi = (np.minimum, np.maximum) if mistake == "corners" else (np.maximum, np.minimum)
    w = hi(a[..., 2], b[..., 2]) - lo(a[..., 0], b[..., 0]) + one
    h = hi(a[..., 3], b[..., 3]) - lo(a[..., 1], b[..., 1]) + one
    inter = w * h if mistake == "no_clamp" else np.clip(w, 0, None) * np.clip(h, 0, None)
    area = lambda x: (x[..., 2] - x[..., 0] + one) * (x[..., 3] - x[..., 1] + one)  # noqa: E731
    union = area(a) + area(b) - (0.0 if mistake == "no_subtract" else inter)
    return inter / union


IOU_MISTAKES = {
    "no_subtract": "Your IoU adds the two areas but does not subtract the overlap: the "
                   "intersection is counted twice, so two identical boxes score 0.5, not 1. "
                   "union = area_a + area_b - intersection.",
    "no_clamp": "Your IoU is not 0 for boxes that do not overlap: the intersection's width "
                "and height come out negative for disjoint boxes (two negatives even multiply "
                "to a positive area). Clip them at zero: np.maximum(x2 - x1, 0).",
    "xywh": "Your IoU reads the boxes as [x, y, width, height] (xywh), but they are corners "
            "[x1, y1, x2, y2] (xyxy): the right edge is x2 itself, not x1 + x2, and the width "
            "is x2 - x1.",
    "plus_one": "Your IoU adds 1 to every width and height (the old 'inclusive pixels' "
                "convention). These boxes are pixel corners, as in Keras and COCO: the width is "
                "x2 - x1, with no + 1.",
    "corners": "Your intersection takes the wrong corners: it spans from the smaller x1 to "
               "the larger x2 (the box around both). The overlap starts at the *larger* of the "
               "two x1 (and y1) and ends at the *smaller* of the two x2 (and y2).",
}


@guarded
def check_iou(iou) -> None:
    """``iou(boxes_a, boxes_b)``: ``(n, 4)`` and ``(m, 4)`` xyxy boxes -> ``(n, m)`` IoUs."""
    n, m = len(IOU_A), len(IOU_B)
    got = _call(iou, "iou", IOU_A.copy(), IOU_B.copy())
    shape = np.shape(got)
    expect(shape != (m, n), f"iou(boxes_a, boxes_b) returned shape {shape}: rows should follow "
           f"boxes_a and columns boxes_b, so ({n}, {m}) here. Swap the axes of your "
           f"broadcasting (boxes_a[:, None] against boxes_b[None, :]).")
    got = _array(got, "iou(boxes_a, boxes_b)", (n, m),
                 f"an array of shape ({n}, {m}): the IoU of every box of boxes_a (n={n}) with "
                 f"every box of boxes_b (m={m}); compare them pairwise with boxes_a[:, None] and "
                 f"boxes_b[None, :]")
    want = reference_iou(IOU_A, IOU_B)
    close = lambda x, y: np.allclose(x, y, atol=1e-4)  # noqa: E731
    if not close(got, want):
        _named({hint: (lambda k=k: _iou_variant(IOU_A, IOU_B, k))
                for k, hint in IOU_MISTAKES.items()}, got, want, close)
        i, j = np.unravel_index(np.argmax(np.abs(got - want)), want.shape)
        raise LabCheckError(f"The IoU of {IOU_A[i].tolist()} and {IOU_B[j].tolist()} (xyxy) "
                            f"should be {want[i, j]:.4f}; yours gives {got[i, j]:.4f}. IoU = "
                            f"intersection area / (area_a + area_b - intersection area).")
    rng = np.random.default_rng(0)
    corners = rng.uniform(0, 64, (2, 30, 2, 2))
    a, b = (np.concatenate([c.min(1), c.max(1) + 1], -1) for c in corners)
    got = _array(_call(iou, "iou", a, b), "iou on 30 x 30 random boxes", (30, 30), "(30, 30)")
    expect(close(got, reference_iou(a, b)), "Your IoU agrees on the lab's examples but not on "
           "30 random boxes: compare with keras.utils.bounding_boxes.compute_iou(a, b, 'xyxy').")
    passed("IoU matches keras.utils.bounding_boxes.compute_iou on "
           f"{n * m + 900} pairs of boxes")


# --- Exercise 2: the training targets ------------------------------------------------------

# Small boxes near the top-left corner, so that every mistake (cells in pixels included) still
# lands on the 16x16 grid, with fractions that tell floor from round; a padding row last.
ENCODE_BOXES = np.array([[1, 5, 14, 16], [6, 2, 10, 12], [-1, -1, -1, -1]], "float32")
ENCODE_LABELS = np.array([3, 0, -1])
# a scene of the lab's size: garments anywhere on the 64x64 canvas
SCENE_BOXES = np.array([[3, 5, 27, 30], [37, 9, 62, 27], [21, 38, 50, 63], [-1, -1, -1, -1]],
                       "float32")
SCENE_LABELS = np.array([2, 7, 9, -1])


def reference_targets(boxes, labels, image_size=IMAGE_SIZE, stride=STRIDE,
                      num_classes=NUM_CLASSES):
    """``cvbook.detection.encode`` for one scene: (peaks, sizes, offsets), where peaks is 1 at
    each garment's centre cell in its class's channel (the heatmap's maxima)."""
    from .. import detection

    heat, sizes, offsets, centres = detection.encode(np.asarray(boxes)[None],
                                                     np.asarray(labels)[None], image_size,
                                                     stride, num_classes)
    peaks = ((heat[0] >= 1 - 1e-6) & (centres[0][..., None] > 0)).astype("float64")
    return peaks, sizes[0].astype("float64"), offsets[0].astype("float64")


def _targets_variant(boxes, labels, image_size, stride, num_classes, mistake=""):
    """(peaks, sizes, offsets) as an encoder with one classic ``mistake`` makes them."""
    g = image_size // stride
    peaks, sizes, offsets = np.zeros((g, g, num_classes)), np.zeros((g, g, 2)), np.zeros((g, g, 2))
    for (x1, y1, x2, y2), c in zip(np.asarray(boxes, "float64"), labels):
        if c < 0:
            continue
        div = 1 if mistake == "stride" else stride
        cx, cy = (x1 + x2) / 2 / div, (y1 + y2) / 2 / div
        cell = np.round if mistake == "round" else np.floor
        col, row = min(int(cell(cx)), g - 1), min(int(cell(cy)), g - 1)
        if mistake == "rowcol":
            row, col = col, row
        peaks[row, col, c] = 1.0
        w, h = x2 - x1, y2 - y1
        sizes[row, col] = {"size_hw": (h, w), "size_cells": (w / stride, h / stride)}.get(
            mistake, (w, h))
        ox, oy = cx - int(cell(cx)), cy - int(cell(cy))
        offsets[row, col] = {"offset_yx": (oy, ox), "offset_pixels": (ox * stride, oy * stride),
                             "offset_absolute": (cx, cy)}.get(mistake, (ox, oy))
    return peaks, sizes, offsets


CELL_MISTAKES = {
    "stride": "Your centre cells are in pixels: the stride is forgotten. The grid has one cell "
              "every `stride` pixels, so col = int(cx / stride) and row = int(cy / stride), "
              "with cx, cy the box's centre in pixels.",
    "rowcol": "Your peaks have rows and columns swapped: the maps are indexed [row, col] = "
              "[y, x], so a centre at (cx, cy) goes to [int(cy / stride), int(cx / stride)].",
    "round": "Your centre cells are one off for some boxes: you round the centre (in grid "
             "units) to the nearest cell. A point belongs to the cell it falls in: take the "
             "floor, int(cx / stride), and keep the fraction as the offset.",
}
PADDING_MISTAKE = ("Your encoder also encodes the padding rows (label -1): channel -1 is the "
                   "last class, so a phantom garment appears there. Skip the rows whose label "
                   "is -1.")
SIZE_MISTAKES = {
    "size_hw": "Your sizes have width and height swapped: sizes[row, col] = (x2 - x1, y2 - y1), "
               "width first.",
    "size_cells": "Your sizes are in grid cells (divided by the stride): the detector predicts "
                  "them in pixels, sizes[row, col] = (x2 - x1, y2 - y1).",
}
OFFSET_MISTAKES = {
    "offset_yx": "Your offsets are (y, x); the convention here is x first: offsets[row, col] = "
                 "(cx / stride - col, cy / stride - row).",
    "offset_pixels": "Your offsets are in pixels: they are the centre's position inside its "
                     "cell in grid units, between 0 and 1: cx / stride - col.",
    "offset_absolute": "Your offsets are the centre's whole position on the grid, not its place "
                       "inside the cell: subtract the cell, cx / stride - col (between 0 and 1).",
}


def _compare_targets(got, args, where: str) -> None:
    labels = args[1]
    peaks, sizes, offsets = got
    want_p, want_s, want_o = reference_targets(*args)
    variant = lambda k: _targets_variant(*args, mistake=k)  # noqa: E731
    real = int((np.asarray(labels) >= 0).sum())
    close = lambda x, y: np.allclose(x, y, atol=1e-4)  # noqa: E731
    if not close(peaks, want_p):
        _named({h: (lambda k=k: variant(k)[0]) for k, h in CELL_MISTAKES.items()},
               peaks, want_p, close)
        expect(peaks.sum() <= real or not (peaks[..., -1] > want_p[..., -1]).any(),
               PADDING_MISTAKE)
        expect(peaks.sum() <= real, f"{where}: your peaks hold {peaks.sum():g} ones for "
               f"{real} garments: one 1.0 per garment, at its centre cell only.")
        wrong_channel = close(peaks.sum(-1), want_p.sum(-1))
        expect(not wrong_channel, f"{where}: your peaks are at the right cells but in the wrong "
               f"channels: a garment of class c peaks in channel c, peaks[row, col, c] = 1.")
        r, c, k = np.argwhere(want_p != peaks)[0]
        raise LabCheckError(f"{where}: peaks[{r}, {c}, {k}] should be {want_p[r, c, k]:g}, "
                            f"yours is {peaks[r, c, k]:g}. A garment's peak is at row = "
                            f"int(cy / stride), col = int(cx / stride) of its class's channel, "
                            f"(cx, cy) being the box's centre in pixels.")
    at = want_p.max(-1) > 0
    if not close(sizes[at], want_s[at]):
        _named({h: (lambda k=k: variant(k)[1][at]) for k, h in SIZE_MISTAKES.items()},
               sizes[at], want_s[at], close)
        raise LabCheckError(f"{where}: at the centre cells your sizes are "
                            f"{sizes[at].tolist()}, expected {want_s[at].tolist()}: the box's "
                            f"width and height in pixels, x2 - x1 and y2 - y1.")
    if not close(offsets[at], want_o[at]):
        _named({h: (lambda k=k: variant(k)[2][at]) for k, h in OFFSET_MISTAKES.items()},
               offsets[at], want_o[at], close)
        inside = ((offsets[at] >= 0) & (offsets[at] < 1)).all()
        raise LabCheckError(f"{where}: at the centre cells your offsets are "
                            f"{offsets[at].tolist()}, expected {want_o[at].tolist()}"
                            + ("" if inside else " (an offset is a place inside one cell: "
                               "always between 0 and 1)") + ": (cx / stride - col, "
                            "cy / stride - row), x first.")
    expect(close(sizes[~at], 0) and close(offsets[~at], 0), f"{where}: sizes and offsets "
           f"should be 0 away from the centre cells (the losses count them only there, and "
           f"decoding reads them only there); yours are not.")


@guarded
def check_encode(encode_centres) -> None:
    """``encode_centres(boxes, labels, image_size, stride, num_classes)`` for one scene ->
    ``(peaks (g, g, num_classes), sizes (g, g, 2), offsets (g, g, 2))``, g = image_size /
    stride, as :func:`cvbook.detection.encode` places them."""
    for boxes, labels, where in ((ENCODE_BOXES, ENCODE_LABELS, "On 2 small boxes"),
                                 (SCENE_BOXES, SCENE_LABELS, "On a 64x64 scene of 3 garments")):
        args = (boxes, labels, IMAGE_SIZE, STRIDE, NUM_CLASSES)
        got = _call(encode_centres, "encode_centres", boxes.copy(), labels.copy(), *args[2:])
        g = IMAGE_SIZE // STRIDE
        expect(isinstance(got, (tuple, list)) and len(got) == 3, "encode_centres should return "
               "three arrays: `return peaks, sizes, offsets`.")
        peaks = _array(got[0], "peaks", (g, g, NUM_CLASSES),
                       f"an array ({g}, {g}, {NUM_CLASSES}): one grid of {g}x{g} cells "
                       f"(image_size / stride) per class")
        sizes = _array(got[1], "sizes", (g, g, 2), f"an array ({g}, {g}, 2)")
        offsets = _array(got[2], "offsets", (g, g, 2), f"an array ({g}, {g}, 2)")
        _compare_targets((peaks, sizes, offsets), args, where)
    passed("centre cells, sizes and offsets match cvbook.detection.encode")


# --- Exercise 3: non-max suppression -------------------------------------------------------

NMS_BOXES = np.array([[10, 10, 30, 30], [12, 12, 32, 32], [13, 13, 33, 33], [40, 40, 60, 60],
                      [46, 40, 66, 60], [52, 40, 72, 60], [0, 40, 15, 60]], "float32")
NMS_LABELS = np.array([1, 1, 4, 1, 1, 1, 1])
NMS_SCORES = np.array([0.6, 0.9, 0.8, 0.7, 0.5, 0.4, 0.3], "float32")


def reference_nms(boxes, labels, scores, iou_threshold) -> list:
    """The indices :func:`cvbook.detection.nms` keeps, best first (scores must be distinct)."""
    from .. import detection

    _, _, kept = detection.nms(np.asarray(boxes)[None], np.asarray(labels)[None],
                               np.asarray(scores)[None], iou_threshold, len(boxes))
    return [int(np.flatnonzero(np.asarray(scores, "float32") == s)[0]) for s in kept[0] if s > 0]


def _nms_variant(boxes, labels, scores, thr, mistake: str) -> list:
    """The indices greedy NMS keeps with one classic ``mistake``, best first."""
    iou = _iou_variant(boxes, boxes, "")
    order = list(range(len(boxes))) if mistake == "unsorted" else list(np.argsort(-scores))
    same = (labels[:, None] == labels[None]) | (mistake == "classes")
    over = (iou < thr) if mistake == "reversed" else (iou > thr)
    kept, seen = [], []
    for i in order:
        against = {"suppressed": seen, "best": kept[:1]}.get(mistake, kept)
        if not any(same[i, j] and over[i, j] for j in against):
            kept.append(i)
        seen.append(i)
    return sorted(kept, key=lambda i: -scores[i])


NMS_MISTAKES = {
    "classes": "Your NMS suppresses across classes: a box of one class removed an overlapping "
               "box of *another* class. Two different garments may overlap; suppress only "
               "boxes with the same label as the box you keep.",
    "reversed": "Your threshold works the wrong way round: it removes the boxes that hardly "
                "overlap the kept one and keeps the near-duplicates. Remove a box when its IoU "
                "with a kept box is *above* iou_threshold.",
    "unsorted": "Your NMS walks the boxes in the order given, not by score: a weaker box came "
                "first and removed a better one. Visit them best first: np.argsort(-scores).",
    "suppressed": "Your NMS lets a box that was already removed remove others: compare each "
                  "box only with the boxes you *kept*, not with every better-scored box.",
    "best": "Your NMS compares each box only with the best box: compare it with every box "
            "kept so far (greedy: the best stays, its duplicates go, then the next best that "
            "is left, and so on).",
}


@guarded
def check_nms(greedy_nms) -> None:
    """``greedy_nms(boxes, labels, scores, iou_threshold)`` for one image -> the indices of the
    kept boxes, best first, as :func:`cvbook.detection.nms` keeps them (per class)."""
    k = len(NMS_BOXES)
    for thr in (IOU_THRESHOLD, 0.7):
        got = _call(greedy_nms, "greedy_nms", NMS_BOXES.copy(), NMS_LABELS.copy(),
                    NMS_SCORES.copy(), thr)
        arr = np.asarray(got)
        expect(arr.dtype != bool, f"greedy_nms returned a mask of {arr.size} True/False "
               f"values: return the *indices* of the kept boxes, best first "
               f"(`return keep` with keep a list of ints).")
        expect(arr.ndim == 1, f"greedy_nms should return a 1-d list of box indices; yours has "
               f"shape {arr.shape} (the boxes themselves?). Return the indices, best first.")
        expect(arr.size == 0 or (np.issubdtype(arr.dtype, np.integer)
                                 or np.allclose(arr, np.round(arr))),
               "greedy_nms should return the *indices* (ints) of the kept boxes, not scores.")
        got = [int(i) for i in arr]
        expect(all(0 <= i < k for i in got) and len(set(got)) == len(got),
               f"greedy_nms returned {got}: indices into the {k} boxes, each at most once.")
        want = reference_nms(NMS_BOXES, NMS_LABELS, NMS_SCORES, thr)
        if sorted(got) != sorted(want):
            for key, hint in NMS_MISTAKES.items():
                wrong = _nms_variant(NMS_BOXES, NMS_LABELS, NMS_SCORES, thr, key)
                if sorted(wrong) != sorted(want) and sorted(got) == sorted(wrong):
                    raise LabCheckError(hint)
            expect(thr == IOU_THRESHOLD or sorted(got) != sorted(
                       reference_nms(NMS_BOXES, NMS_LABELS, NMS_SCORES, IOU_THRESHOLD)),
                   f"With iou_threshold={thr} your NMS keeps what it keeps at "
                   f"{IOU_THRESHOLD}: use the iou_threshold argument, not a fixed number.")
            raise LabCheckError(f"With iou_threshold={thr}, greedy NMS keeps the boxes {want} "
                                f"(best first); yours keeps {got}. Boxes: "
                                f"{NMS_BOXES.astype(int).tolist()}, labels "
                                f"{NMS_LABELS.tolist()}, scores {NMS_SCORES.tolist()}.")
        expect(got == want, f"greedy_nms keeps the right boxes but returns them as {got}: "
               f"return them best first, {want}.")
    passed("greedy NMS keeps what cvbook.detection.nms keeps, per class, best first")


# --- Exercise 4: decoding ------------------------------------------------------------------

def decode_maps(stride=STRIDE, image_size=IMAGE_SIZE, num_classes=NUM_CLASSES):
    """Hand-made maps with a few candidates: one in the middle, some crossing the image's
    edges, one below the lab's ``MIN_SCORE``."""
    g = image_size // stride
    heat, sizes, offsets = np.zeros((g, g, num_classes)), np.zeros((g, g, 2)), np.zeros((g, g, 2))
    for (row, col), c, score, size, offset in [
            ((2, 3), 1, 0.9, (10, 20), (0.25, 0.75)),
            ((2, 4), 1, 0.5, (10, 20), (0.0, 0.0)),
            ((g * 5 // 8, 1), 5, 0.6, (16, 8), (0.5, 0.2)),
            ((g - 2, g - 3), 5, 0.45, (12, 14), (0.6, 0.9)),
            ((g * 3 // 8, g // 2), 2, 0.2, (6, 6), (0.5, 0.5))]:
        heat[row, col, c], sizes[row, col], offsets[row, col] = score, size, offset
    return heat.astype("float32"), sizes.astype("float32"), offsets.astype("float32")


def reference_decode(heat, sizes, offsets, stride, image_size, min_score):
    """:func:`cvbook.detection.decode` without peak picking, for one image: every (cell, class)
    scoring at least ``min_score`` as a box, sorted by score."""
    from .. import detection

    b, l, s = detection.decode(heat[None], sizes[None], offsets[None], stride,
                               max_detections=heat.size, min_score=min_score, peaks=False)
    keep = l[0] >= 0
    del image_size  # the reference clips to the grid's extent, g * stride
    return b[0][keep].astype("float64"), l[0][keep], s[0][keep].astype("float64")


def _decode_variant(heat, sizes, offsets, stride, image_size, min_score, mistake=""):
    """(boxes, labels, scores) as a decoder with one classic ``mistake`` makes them."""
    keep = (heat < min_score) if mistake == "threshold" else (heat >= min_score)
    rows, cols, labels = np.nonzero(keep)
    scores = heat[rows, cols, labels].astype("float64")
    s = 1 if mistake == "stride" else stride
    if mistake == "rowcol":
        rows, cols = cols, rows
    ox, oy = offsets[rows, cols, 0], offsets[rows, cols, 1]
    if mistake == "offset_yx":
        ox, oy = oy, ox
    if mistake == "offset":
        ox, oy = 0 * ox, 0 * oy
    half = 0.5 if mistake == "half_cell" else 0.0
    cx, cy = (cols + half + ox) * s, (rows + half + oy) * s
    w, h = sizes[rows, cols, 0], sizes[rows, cols, 1]
    if mistake == "wh":
        w, h = h, w
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1)
    if mistake == "corner":
        boxes = np.stack([cx, cy, cx + w, cy + h], -1)
    if mistake != "clip":
        boxes = boxes.clip(0, image_size - (1 if mistake == "clip_minus_one" else 0))
    if mistake == "xywh":
        boxes = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], -1)
    return boxes.astype("float64"), labels, scores


DECODE_MISTAKES = {
    "stride": "Your boxes are in grid cells: the stride is forgotten. The centre in pixels is "
              "cx = (col + offset_x) * stride, cy = (row + offset_y) * stride.",
    "offset": "Your boxes ignore the offsets: every centre sits on a cell's corner. The "
              "centre is cx = (col + offsets[row, col, 0]) * stride (and y with offsets[..., 1]).",
    "offset_yx": "Your decoder reads the offsets as (y, x); they are (x, y): "
                 "cx = (col + offsets[row, col, 0]) * stride, cy = (row + offsets[row, col, 1]) "
                 "* stride.",
    "half_cell": "Your decoder adds half a cell to the centre: the offset already says where "
                 "in the cell the centre lies, cx = (col + offset_x) * stride.",
    "rowcol": "Your decoder swaps rows and columns: the maps are indexed [row, col] = [y, x], "
              "so x comes from the column, cx = (col + offset_x) * stride.",
    "wh": "Your boxes have width and height swapped: sizes[row, col] = (width, height), so "
          "x1 = cx - sizes[row, col, 0] / 2 and y1 = cy - sizes[row, col, 1] / 2.",
    "corner": "Your boxes start at the centre: (cx, cy) is the middle of the box, so x1 = "
              "cx - w / 2, x2 = cx + w / 2 (and the same for y).",
    "xywh": "Your boxes are [x, y, width, height] (xywh): return corners [x1, y1, x2, y2] "
            "(xyxy), x2 = cx + w / 2.",
    "clip": "Your boxes are not clipped to the image: a box that crosses its edge should end "
            "there. np.clip(boxes, 0, image_size) keeps every corner in [0, image_size].",
    "clip_minus_one": "Your boxes are clipped to [0, image_size - 1]: corners are pixel edges, "
                      "so the image's right edge is image_size itself. np.clip(boxes, 0, "
                      "image_size).",
    "threshold": "Your min_score test works the wrong way round: it keeps the cells *below* "
                 "min_score (the background) and drops the detections. Keep heatmap >= "
                 "min_score.",
}


def _by_score(boxes, labels, scores):
    order = np.lexsort((*boxes.T[::-1], labels, -scores))
    return boxes[order], labels[order], scores[order]


def _compare_decoded(got, args, where: str) -> None:
    boxes, labels, scores = got
    want_b, want_l, want_s = reference_decode(*args)
    close = lambda x, y: np.allclose(x, y, atol=1e-3)  # noqa: E731
    wrong = {k: _decode_variant(*args, mistake=k) for k in DECODE_MISTAKES}
    if len(labels) != len(want_l):
        expect(len(labels) != len(wrong["threshold"][1]), DECODE_MISTAKES["threshold"])
        raise LabCheckError(f"{where}: min_score={args[-1]} keeps {len(want_l)} (cell, class) "
                            f"candidates, you return {len(labels)} boxes. Decode every cell "
                            f"and class with heatmap[row, col, c] >= min_score.")
    boxes, labels, scores = _by_score(boxes, labels, scores)
    want_b, want_l, want_s = _by_score(want_b, want_l, want_s)
    expect(close(scores, want_s), f"{where}: your scores are {scores.round(3).tolist()}, "
           f"expected {want_s.round(3).tolist()}: a box's score is heatmap[row, col, c].")
    expect(np.array_equal(labels, want_l), f"{where}: your labels are {labels.tolist()}, "
           f"expected {want_l.tolist()}: a box's label is its heatmap channel c.")
    if not close(boxes, want_b):
        for key, (b, l, s) in wrong.items():
            b = _by_score(b, l, s)[0]
            if b.shape == want_b.shape and not close(b, want_b) and close(boxes, b):
                raise LabCheckError(DECODE_MISTAKES[key])
        i = int(np.argmax(np.abs(boxes - want_b).max(-1)))
        raise LabCheckError(f"{where}: the box of score {want_s[i]:.2f} should be "
                            f"{want_b[i].round(2).tolist()} (xyxy, pixels); yours is "
                            f"{boxes[i].round(2).tolist()}.")


@guarded
def check_decode(decode_boxes) -> None:
    """``decode_boxes(heatmap, sizes, offsets, stride, image_size, min_score)`` for one image ->
    ``(boxes (k, 4), labels (k,), scores (k,))``, every (cell, class) with a score of at least
    ``min_score`` as a clipped xyxy box, as :func:`cvbook.detection.decode` (``peaks=False``)
    makes them."""
    for stride in (STRIDE, 8):
        maps = decode_maps(stride)
        args = (*maps, stride, IMAGE_SIZE, MIN_SCORE)
        where = "With the lab's stride" if stride == STRIDE else f"With stride={stride}"
        got = _call(decode_boxes, "decode_boxes", *(m.copy() for m in maps), *args[3:])
        expect(isinstance(got, (tuple, list)) and len(got) == 3, "decode_boxes should return "
               "three arrays: `return boxes, labels, scores`.")
        k = np.shape(got[1])[0] if np.ndim(got[1]) == 1 else None
        boxes = _array(got[0], "boxes", (k, 4), "an array (k, 4): one [x1, y1, x2, y2] box per "
                       "candidate")
        labels = _array(got[1], "labels", (len(boxes),), f"an array ({len(boxes)},): one class "
                        f"per box").astype(int)
        scores = _array(got[2], "scores", (len(boxes),), f"an array ({len(boxes)},): one score "
                        f"per box")
        _compare_decoded((boxes, labels, scores), args, where)
    passed("decoded boxes match cvbook.detection.decode: centres, sizes, clipping, scores")


# --- The detector's score --------------------------------------------------------------------

@guarded
def check_map(result, minimum: float) -> None:
    """A :func:`cvbook.detection.coco_map` result reaches ``minimum`` mAP (IoU 0.50:0.95)."""
    require(result, "result")
    expect(isinstance(result, dict) and "map" in result, "result should be what "
           f"detection.coco_map returns (a dict with 'map', 'map50', 'per_class'), got "
           f"{type(result).__name__}.")
    value = float(result["map"])
    expect(value >= minimum, f"mAP (IoU 0.50:0.95) is {value:.3f}, below {minimum:.2f}: "
           f"with these ideal maps every garment should come back as one box. Check the "
           f"decoding and NMS cells above, then run the cells again from the top.")
    passed(f"mAP {value:.3f} >= {minimum:.2f} (mAP@0.5 {float(result['map50']):.3f})")
