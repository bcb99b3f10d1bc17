"""The detection lab's checks accept the right answers and name each classic mistake. The
answers below are written as a learner would write them (the lab's solution), each wrong one
with a single mistake."""

import numpy as np
import pytest

from cvbook.checks import detection as checks


# --- Exercise 1: IoU ---------------------------------------------------------------------------

def make_iou(xywh=False, subtract=True, clamp=True, plus=0.0, corners="right", transpose=False):
    def iou(boxes_a, boxes_b):
        a, b = boxes_a[:, None, :], boxes_b[None, :, :]
        if xywh:
            a = np.concatenate([a[..., :2], a[..., :2] + a[..., 2:]], -1)
            b = np.concatenate([b[..., :2], b[..., :2] + b[..., 2:]], -1)
        lo, hi = (np.maximum, np.minimum) if corners == "right" else (np.minimum, np.maximum)
        w = hi(a[..., 2], b[..., 2]) - lo(a[..., 0], b[..., 0]) + plus
        h = hi(a[..., 3], b[..., 3]) - lo(a[..., 1], b[..., 1]) + plus
        inter = np.maximum(w, 0) * np.maximum(h, 0) if clamp else w * h
        area_a = (a[..., 2] - a[..., 0] + plus) * (a[..., 3] - a[..., 1] + plus)
        area_b = (b[..., 2] - b[..., 0] + plus) * (b[..., 3] - b[..., 1] + plus)
        out = inter / (area_a + area_b - (inter if subtract else 0))
        return out.T if transpose else out
    return iou


def test_iou_accepts_the_solution(capsys):
    checks.check_iou(make_iou())
    assert "compute_iou" in capsys.readouterr().out


@pytest.mark.parametrize("answer, hint", [
    (make_iou(xywh=True), "reads the boxes as [x, y, width, height] (xywh)"),
    (make_iou(subtract=False), "adds the two areas but does not subtract the overlap"),
    (make_iou(clamp=False), "not 0 for boxes that do not overlap"),
    (make_iou(plus=1.0), "adds 1 to every width and height"),
    (make_iou(corners="wrong"), "intersection takes the wrong corners"),
    (make_iou(transpose=True), "rows should follow boxes_a"),
    (lambda a, b: np.ones((len(a), len(b))), "should be 0.0000; yours gives 1.0000"),
    (lambda a, b: None, "still a TODO"),
    (lambda a, b: (_ for _ in ()).throw(NotImplementedError), "still a TODO"),
])
def test_iou_names_the_mistake(answer, hint, rejects):
    rejects(lambda: checks.check_iou(answer), hint)


def test_iou_elementwise_gets_the_pairwise_hint(rejects):
    def elementwise(a, b):
        w = np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0])
        return w  # shapes (2,) and (4,) do not broadcast
    rejects(lambda: checks.check_iou(elementwise), "index them as a[:, None]")


# --- Exercise 2: the training targets ------------------------------------------------------

def make_encoder(stride_in=True, floor=True, rowcol=True, skip_padding=True, wh=True,
                 size_pixels=True, offset_xy=True, offset_cells=True, channel=True):
    def encode_centres(boxes, labels, image_size, stride, num_classes):
        g = image_size // stride
        peaks = np.zeros((g, g, num_classes))
        sizes, offsets = np.zeros((g, g, 2)), np.zeros((g, g, 2))
        for (x1, y1, x2, y2), c in zip(boxes, labels):
            if c < 0 and skip_padding:
                continue
            s = stride if stride_in else 1
            cx, cy = (x1 + x2) / 2 / s, (y1 + y2) / 2 / s
            col, row = (int(cx), int(cy)) if floor else (int(round(cx)), int(round(cy)))
            if not rowcol:
                row, col = col, row
            peaks[row, col, c if channel else 0] = 1.0
            w, h = x2 - x1, y2 - y1
            sizes[row, col] = ((w, h) if wh else (h, w)) if size_pixels else (w / s, h / s)
            ox, oy = cx - int(cx), cy - int(cy)
            ox, oy = (ox, oy) if offset_xy else (oy, ox)
            offsets[row, col] = (ox, oy) if offset_cells else (ox * s, oy * s)
        return peaks, sizes, offsets
    return encode_centres


def test_encode_accepts_the_solution(capsys):
    checks.check_encode(make_encoder())
    assert "match cvbook.detection.encode" in capsys.readouterr().out


@pytest.mark.parametrize("answer, hint", [
    (make_encoder(stride_in=False), "the stride is forgotten"),
    (make_encoder(floor=False), "one off for some boxes: you round"),
    (make_encoder(rowcol=False), "rows and columns swapped"),
    (make_encoder(skip_padding=False), "encodes the padding rows (label -1)"),
    (make_encoder(wh=False), "width and height swapped"),
    (make_encoder(size_pixels=False), "sizes are in grid cells"),
    (make_encoder(offset_xy=False), "offsets are (y, x)"),
    (make_encoder(offset_cells=False), "offsets are in pixels"),
    (make_encoder(channel=False), "in the wrong channels"),
    (lambda *a: (np.zeros((1, 16, 16, 10)),) * 3, "shape (1, 16, 16, 10)"),
    (lambda *a: None, "still a TODO"),
])
def test_encode_names_the_mistake(answer, hint, rejects):
    rejects(lambda: checks.check_encode(answer), hint)


def test_encode_out_of_grid_gets_a_hint_about_grid_units(rejects):
    def crashes(boxes, labels, image_size, stride, num_classes):
        peaks = np.zeros((image_size // stride, image_size // stride, num_classes))
        peaks[int(boxes[0, 3]) * 4, 0, 0] = 1  # a row in pixels, off the 16-row grid
        return peaks
    rejects(lambda: checks.check_encode(crashes), "in grid cells (pixels / stride")


# --- Exercise 3: non-max suppression -------------------------------------------------------

def make_nms(per_class=True, above=True, by_score=True, against="kept", best_first=True):
    iou = make_iou()

    def greedy_nms(boxes, labels, scores, iou_threshold):
        order = list(np.argsort(-scores)) if by_score else list(range(len(boxes)))
        overlaps = iou(boxes, boxes)
        keep, seen = [], []
        for i in order:
            others = {"kept": keep, "seen": seen, "best": keep[:1]}[against]
            clash = [j for j in others if (labels[j] == labels[i] or not per_class)
                     and ((overlaps[i, j] > iou_threshold) == above)]
            if not clash:
                keep.append(int(i))
            seen.append(int(i))
        keep = sorted(keep, key=lambda i: -scores[i])
        return keep if best_first else keep[::-1]
    return greedy_nms


def test_nms_accepts_the_solution(capsys):
    checks.check_nms(make_nms())
    assert "per class, best first" in capsys.readouterr().out


@pytest.mark.parametrize("answer, hint", [
    (make_nms(per_class=False), "suppresses across classes"),
    (make_nms(above=False), "threshold works the wrong way round"),
    (make_nms(by_score=False), "walks the boxes in the order given, not by score"),
    (make_nms(against="seen"), "a box that was already removed remove others"),
    (make_nms(against="best"), "compares each box only with the best box"),
    (make_nms(best_first=False), "return them best first"),
    (lambda b, l, s, t: make_nms()(b, l, s, 0.5), "use the iou_threshold argument"),
    (lambda b, l, s, t: np.isin(np.arange(len(b)), make_nms()(b, l, s, t)), "a mask of 7"),
    (lambda b, l, s, t: b[make_nms()(b, l, s, t)], "shape (5, 4)"),
    (lambda *a: None, "still a TODO"),
])
def test_nms_names_the_mistake(answer, hint, rejects):
    rejects(lambda: checks.check_nms(answer), hint)


# --- Exercise 4: decoding ------------------------------------------------------------------

def make_decoder(use_stride=True, use_offset=True, offset_xy=True, half=0.0, rowcol=True,
                 wh=True, centred=True, xyxy=True, clip=True, edge=0, above=True):
    def decode_boxes(heatmap, sizes, offsets, stride, image_size, min_score):
        keep = heatmap >= min_score if above else heatmap < min_score
        rows, cols, labels = np.nonzero(keep)
        r, c = (rows, cols) if rowcol else (cols, rows)
        ox, oy = offsets[r, c, 0], offsets[r, c, 1]
        ox, oy = (ox, oy) if offset_xy else (oy, ox)
        if not use_offset:
            ox, oy = 0, 0
        s = stride if use_stride else 1
        cx, cy = (c + half + ox) * s, (r + half + oy) * s
        w, h = (sizes[r, c, 0], sizes[r, c, 1]) if wh else (sizes[r, c, 1], sizes[r, c, 0])
        if centred:
            boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1)
        else:
            boxes = np.stack([cx, cy, cx + w, cy + h], -1)
        if clip:
            boxes = np.clip(boxes, 0, image_size - edge)
        if not xyxy:
            boxes = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], -1)
        return boxes, labels, heatmap[rows, cols, labels]
    return decode_boxes


def test_decode_accepts_the_solution(capsys):
    checks.check_decode(make_decoder())
    assert "decoded boxes match cvbook.detection.decode" in capsys.readouterr().out


@pytest.mark.parametrize("answer, hint", [
    (make_decoder(use_stride=False), "the stride is forgotten"),
    (make_decoder(use_offset=False), "ignore the offsets"),
    (make_decoder(offset_xy=False), "reads the offsets as (y, x)"),
    (make_decoder(half=0.5), "adds half a cell"),
    (make_decoder(rowcol=False), "swaps rows and columns"),
    (make_decoder(wh=False), "width and height swapped"),
    (make_decoder(centred=False), "start at the centre"),
    (make_decoder(xyxy=False), "[x, y, width, height] (xywh)"),
    (make_decoder(clip=False), "not clipped to the image"),
    (make_decoder(edge=1), "clipped to [0, image_size - 1]"),
    (make_decoder(above=False), "keeps the cells *below* min_score"),
    (lambda h, s, o, st, size, m: make_decoder()(h, s, o, 4, size, m), "With stride=8"),
    (lambda *a: make_decoder()(*a)[:2], "return boxes, labels, scores"),
    (lambda *a: None, "still a TODO"),
])
def test_decode_names_the_mistake(answer, hint, rejects):
    rejects(lambda: checks.check_decode(answer), hint)


def test_map_check(capsys, rejects):
    checks.check_map({"map": 0.97, "map50": 1.0, "per_class": []}, 0.9)
    assert "mAP 0.970 >= 0.90" in capsys.readouterr().out
    rejects(lambda: checks.check_map({"map": 0.4, "map50": 0.6}, 0.9), "below 0.90")
    rejects(lambda: checks.check_map(0.97, 0.9), "what detection.coco_map returns")
    rejects(lambda: checks.check_map(None, 0.9), "still a TODO")
