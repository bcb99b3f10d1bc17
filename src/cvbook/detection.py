"""Object detection: a CenterNet-style detector on a feature map, and COCO mean average precision.

The detection chapter prints these with :func:`cvbook.plots.show_source`; its lab asks the
learner to write the box arithmetic (IoU, non-max suppression, target encoding, decoding) by
hand and checks it against the functions here.

The detector is *anchor-free*, after CenterNet (Zhou et al., 2019, "Objects as Points"): each
garment is the peak of a heatmap at its centre, one heatmap channel per class, on a grid
``stride`` pixels apart; at that peak two more maps give the box's width and height and the
centre's offset inside its grid cell. Decoding keeps the peaks (a cell that is the maximum of
its 3x3 neighbourhood), the best ``max_detections`` of them, as boxes.

Boxes are pixel corners ``[x1, y1, x2, y2]`` (Keras' ``"xyxy"``), padded with label -1, as
:func:`cvbook.data.scenes` makes them. Importing this module imports Keras.
"""

from __future__ import annotations

import contextlib
import io

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from . import args

HEATMAP_PRIOR = 0.01  # the heatmap's initial output: few cells hold a centre (RetinaNet's trick)
SIZE_PRIOR = 24.0  # the size head's initial output, pixels: a typical garment's side in a scene


def _boxes_and_labels(boxes, labels, name="boxes"):
    boxes = np.asarray(boxes, dtype="float32")
    labels = np.asarray(labels)
    if boxes.ndim != 3 or boxes.shape[-1] != 4 or labels.shape != boxes.shape[:2]:
        raise ValueError(f"{name} must be (n, k, 4) xyxy boxes with labels (n, k) (-1: none); "
                         f"got {boxes.shape} and {labels.shape}")
    real = labels >= 0
    bad = real & ((boxes[..., 2] <= boxes[..., 0]) | (boxes[..., 3] <= boxes[..., 1]))
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ValueError(f"{name}[{i}, {j}] = {boxes[i, j].tolist()}: an xyxy box needs "
                         f"x2 > x1 and y2 > y1 (is it in another format, xywh?)")
    return boxes, labels.astype("int32"), real


def gaussian_sigmas(widths, heights, stride: int):
    """The spread of a centre's Gaussian on the grid, per axis: a sixth of the box's extent in
    grid cells (so the bump fades out near the box's edges), at least half a cell."""
    return (np.maximum(np.asarray(widths) / stride / 6, 0.5),
            np.maximum(np.asarray(heights) / stride / 6, 0.5))


def encode(boxes, labels, image_size: int, stride: int, num_classes: int):
    """The detector's training targets for a batch of scenes.

    Returns ``heatmap`` ``(n, g, g, num_classes)`` (g = image_size / stride): a Gaussian bump
    with peak 1 at each garment's centre cell in its class's channel; ``sizes`` ``(n, g, g, 2)``:
    the box's width and height in pixels, at the centre cell; ``offsets`` ``(n, g, g, 2)``: where
    the centre lies inside that cell (0-1, x then y); ``centres`` ``(n, g, g)``: 1 at centre
    cells, where the size and offset losses count.
    """
    boxes, labels, real = _boxes_and_labels(boxes, labels)
    image_size = args.integer(image_size, "image_size", 1)
    stride = args.integer(stride, "stride", 1)
    num_classes = args.integer(num_classes, "num_classes", 1)
    if image_size % stride:
        raise ValueError(f"image_size {image_size} must be a multiple of stride {stride}")
    g = image_size // stride
    n = len(boxes)
    heatmap = np.zeros((n, g, g, num_classes), "float32")
    sizes = np.zeros((n, g, g, 2), "float32")
    offsets = np.zeros((n, g, g, 2), "float32")
    centres = np.zeros((n, g, g), "float32")
    grid = np.arange(g, dtype="float32")
    for i, j in zip(*np.nonzero(real)):
        x1, y1, x2, y2 = boxes[i, j]
        cx, cy = (x1 + x2) / 2 / stride, (y1 + y2) / 2 / stride  # centre, in grid units
        col, row = min(int(cx), g - 1), min(int(cy), g - 1)
        sx, sy = gaussian_sigmas(x2 - x1, y2 - y1, stride)
        bump = np.exp(-((grid[None, :] - col) ** 2 / (2 * sx ** 2)
                        + (grid[:, None] - row) ** 2 / (2 * sy ** 2)))
        c = labels[i, j]
        heatmap[i, :, :, c] = np.maximum(heatmap[i, :, :, c], bump)
        sizes[i, row, col] = (x2 - x1, y2 - y1)
        offsets[i, row, col] = (cx - col, cy - row)
        centres[i, row, col] = 1.0
    return heatmap, sizes, offsets, centres


def decode(heatmap, sizes, offsets, stride: int, max_detections: int = 20,
           min_score: float = 0.05, peaks: bool = True):
    """Boxes from the detector's maps: keep the cells that are the maximum of their 3x3
    neighbourhood in their class's heatmap (CenterNet's replacement for non-max suppression),
    take the ``max_detections`` best above ``min_score``, and read each box's size and centre
    offset at its cell. Returns ``(boxes, labels, scores)``, ``(n, max_detections, ...)``,
    padded with label -1 and score 0; boxes are clipped to the image, and one with no area is
    no detection. ``peaks=False`` keeps
    every cell, neighbours of a peak included: the raw candidates that :func:`nms` thins."""
    stride = args.integer(stride, "stride", 1)
    max_detections = args.integer(max_detections, "max_detections", 1)
    heatmap = tf.convert_to_tensor(heatmap, "float32")
    n, g, _, c = heatmap.shape
    if peaks:
        heatmap = tf.where(heatmap == tf.nn.max_pool2d(heatmap, 3, 1, "SAME"), heatmap, 0.0)
    scores, index = tf.math.top_k(tf.reshape(heatmap, (n, -1)),
                                  k=min(max_detections, g * g * c))
    scores, index = scores.numpy(), index.numpy()
    cell, label = index // c, index % c
    row, col = cell // g, cell % g
    sizes, offsets = np.asarray(sizes), np.asarray(offsets)
    batch = np.arange(n)[:, None]
    w, h = sizes[batch, row, col, 0], sizes[batch, row, col, 1]
    cx = (col + offsets[batch, row, col, 0]) * stride
    cy = (row + offsets[batch, row, col, 1]) * stride
    limit = g * stride
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1).clip(0, limit)
    keep = (scores >= min_score) & (boxes[..., 2] > boxes[..., 0]) & (boxes[..., 3] > boxes[..., 1])
    boxes = np.where(keep[..., None], boxes, -1.0).astype("float32")
    labels = np.where(keep, label, -1).astype("int32")
    return boxes, labels, np.where(keep, scores, 0.0).astype("float32")


def nms(boxes, labels, scores, iou_threshold: float = 0.5, max_detections: int = 20):
    """Greedy non-max suppression per image and per class, with TensorFlow's
    ``tf.image.non_max_suppression``: the best box stays, every box of its class that overlaps
    it by more than ``iou_threshold`` (IoU) goes, and so on down the scores. Same layout in and
    out as :func:`decode`."""
    boxes, labels, real = _boxes_and_labels(boxes, labels)
    iou_threshold = args.number(iou_threshold, "iou_threshold", 0.0, 1.0)
    max_detections = args.integer(max_detections, "max_detections", 1)
    scores = np.asarray(scores, "float32")
    out_boxes = np.full((len(boxes), max_detections, 4), -1.0, "float32")
    out_labels = np.full((len(boxes), max_detections), -1, "int32")
    out_scores = np.zeros((len(boxes), max_detections), "float32")
    for i in range(len(boxes)):
        kept = []
        for c in np.unique(labels[i][real[i]]):
            idx = np.flatnonzero(real[i] & (labels[i] == c))
            # TensorFlow reads boxes as [y1, x1, y2, x2]; IoU is the same for [x1, y1, x2, y2]
            keep = tf.image.non_max_suppression(boxes[i, idx], scores[i, idx], len(idx),
                                                iou_threshold).numpy()
            kept.extend(idx[keep])
        kept = sorted(kept, key=lambda j: -scores[i, j])[:max_detections]
        out_boxes[i, :len(kept)] = boxes[i, kept]
        out_labels[i, :len(kept)] = labels[i, kept]
        out_scores[i, :len(kept)] = scores[i, kept]
    return out_boxes, out_labels, out_scores


def focal_loss(heatmap_true, heatmap_pred, alpha: float = 2.0, beta: float = 4.0):
    """CenterNet's penalty-reduced focal loss, summed over cells and divided by the number of
    centres. At a centre (target 1) the loss is ``-(1 - p)^alpha log p``; elsewhere
    ``-(1 - y)^beta p^alpha log(1 - p)``: cells near a centre (y close to 1) are barely
    penalised for a high score, and the ``p^alpha`` factor makes the thousands of easy
    background cells count for little."""
    p = keras.ops.clip(heatmap_pred, 1e-6, 1 - 1e-6)
    y = heatmap_true
    at_centre = keras.ops.cast(y >= 1.0 - 1e-6, p.dtype)
    pos = at_centre * (1 - p) ** alpha * keras.ops.log(p)
    neg = (1 - at_centre) * (1 - y) ** beta * p ** alpha * keras.ops.log(1 - p)
    n_centres = keras.ops.maximum(keras.ops.sum(at_centre), 1.0)
    return -keras.ops.sum(pos + neg) / n_centres


def centernet(backbone, num_classes: int, width: int = 64, name: str = "centernet"):
    """A detector on a backbone built by :func:`cvbook.transfer.resnet`: its stride-8 features
    (``stage3``) upsampled and joined with its stride-4 features (``stage2``), then three heads
    on that 4-pixel grid: ``heatmap`` (sigmoid, one channel per class), ``size`` (width, height
    in pixels; linear, as in CenterNet, starting near a typical garment's size: a ReLU there can
    die at initialisation and never learn a size) and ``offset`` (sigmoid: the centre inside its
    cell)."""
    num_classes = args.integer(num_classes, "num_classes", 1)
    width = args.integer(width, "width", 1)
    stride4 = backbone.get_layer("stage2_block1_out").output
    stride8 = backbone.get_layer("stage3_block1_out").output
    features = keras.Model(backbone.input, [stride4, stride8], name="features")

    images = keras.Input(backbone.input_shape[1:], name="images")
    fine, coarse = features(images)
    x = layers.Concatenate()([fine, layers.UpSampling2D(2, interpolation="bilinear")(coarse)])
    x = layers.Conv2D(width, 3, padding="same", activation="relu", name="neck")(x)

    def head(channels, activation, bias=0.0, name=""):
        h = layers.Conv2D(width, 3, padding="same", activation="relu", name=f"{name}_conv")(x)
        return layers.Conv2D(channels, 1, activation=activation, name=name,
                             bias_initializer=keras.initializers.Constant(bias))(h)

    prior_logit = float(np.log(HEATMAP_PRIOR / (1 - HEATMAP_PRIOR)))
    outputs = {"heatmap": head(num_classes, "sigmoid", prior_logit, "heatmap"),
               "size": head(2, None, SIZE_PRIOR, "size"),
               "offset": head(2, "sigmoid", name="offset")}
    return keras.Model(images, outputs, name=name)


def network(image_size: int = 64, num_classes: int = 10, width: int = 64,
            backbone_widths=(32, 64, 128)):
    """The chapter's detector network: :func:`centernet` on a fresh
    :func:`cvbook.transfer.resnet` backbone for ``image_size`` square grey scenes. Its
    convolutions have the shapes of the transfer chapter's backbone whatever the image size,
    so that backbone's pretrained weights fit it (``get_layer("features")``)."""
    from . import transfer

    image_size = args.integer(image_size, "image_size", 16)
    backbone = transfer.resnet((image_size, image_size, 1), num_classes=2,
                               widths=tuple(backbone_widths), blocks=1).get_layer("backbone")
    return centernet(backbone, num_classes, width)


class Detector(keras.Model):
    """A CenterNet detector for ``fit`` and ``detect``.

    ``fit(images, encode(boxes, labels, ...))`` trains with a custom ``train_step``: the focal
    loss on the heatmap, plus the L1 error of the box sizes (weighted by ``size_weight``: they
    are in pixels) and of the centre offsets, both counted at centre cells only.
    ``detect(images)`` returns ``(boxes, labels, scores)`` as :func:`decode` does.
    """

    def __init__(self, network, stride: int = 4, size_weight: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        self.network = network
        self.stride = args.integer(stride, "stride", 1)
        self.size_weight = args.number(size_weight, "size_weight", 0.0)
        self.trackers = {name: keras.metrics.Mean(name=name)
                         for name in ("loss", "heatmap", "size", "offset")}

    @property
    def metrics(self):
        return list(self.trackers.values())

    def call(self, images, training=False):
        return self.network(images, training=training)

    def losses_of(self, out, heatmap, sizes, offsets, centres):
        """The three losses of one batch: (heatmap, size, offset)."""
        n = keras.ops.maximum(keras.ops.sum(centres), 1.0)
        at_centres = centres[..., None]
        return (focal_loss(heatmap, out["heatmap"]),
                keras.ops.sum(at_centres * keras.ops.abs(out["size"] - sizes)) / n,
                keras.ops.sum(at_centres * keras.ops.abs(out["offset"] - offsets)) / n)

    def train_step(self, data):
        images, (heatmap, sizes, offsets, centres) = data
        with tf.GradientTape() as tape:
            out = self.network(images, training=True)
            parts = self.losses_of(out, heatmap, sizes, offsets, centres)
            loss = parts[0] + self.size_weight * parts[1] + parts[2]
        weights = self.network.trainable_weights
        self.optimizer.apply_gradients(zip(tape.gradient(loss, weights), weights))
        for name, value in zip(self.trackers, (loss, *parts)):
            self.trackers[name].update_state(value)
        return {name: t.result() for name, t in self.trackers.items()}

    def detect(self, images, max_detections: int = 20, min_score: float = 0.05):
        """Boxes, labels and scores for ``images`` (see :func:`decode`)."""
        # direct calls in batches: a `predict` per detector makes TensorFlow warn of retracing
        images = np.asarray(images, "float32")
        parts = [self.network(images[i:i + 256], training=False)
                 for i in range(0, len(images), 256)]
        out = {key: np.concatenate([np.asarray(p[key]) for p in parts]) for key in parts[0]}
        return decode(out["heatmap"], out["size"], out["offset"], self.stride,
                      max_detections, min_score)


def flip_scenes(images, boxes, labels, seed: int, boxes_too: bool = True):
    """Flip a random half of the scenes left-right with Keras' ``RandomFlip`` layer; given
    ``bounding_box_format`` the layer flips the boxes with the images. ``boxes_too=False``
    flips the images only and keeps the old boxes: the classic augmentation bug."""
    flip = layers.RandomFlip("horizontal", bounding_box_format="xyxy", seed=seed)
    out = flip({"images": images, "bounding_boxes": {"boxes": boxes, "labels": labels}},
               training=True)
    if not boxes_too:
        return np.asarray(out["images"]), boxes
    return np.asarray(out["images"]), np.where(labels[..., None] >= 0,
                                               np.asarray(out["bounding_boxes"]["boxes"]), -1.0)


def train(detector, scenes, epochs: int, batch_size: int = 32, learning_rate: float = 1e-3,
          augment: str | None = None, seed: int = 0):
    """Train ``detector`` on ``scenes`` (:func:`cvbook.data.scenes`) with Adam and a cosine
    decay of the learning rate, one line of progress per few epochs. ``augment``: ``None``;
    ``"flip"``: each epoch sees a fresh random left-right flip of half the scenes, boxes
    flipped too; ``"flip-image-only"``: the same flips with the boxes left unflipped.
    Returns the losses of each epoch, as ``fit``'s history does."""
    from . import models

    epochs = args.integer(epochs, "epochs", 1)
    if augment not in (None, "flip", "flip-image-only"):
        raise ValueError(f"augment must be None, 'flip' or 'flip-image-only', got {augment!r}")
    images, boxes, labels = scenes.images, scenes.boxes, scenes.labels
    size, classes = images.shape[1], len(scenes.class_names)
    steps = epochs * -(-len(images) // batch_size)
    detector.compile(keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(
        learning_rate, decay_steps=steps)))
    log = models.step_log(epochs, "epoch", lines=4)
    history = {}
    for epoch in range(epochs):
        x, b = images, boxes
        if augment:
            x, b = flip_scenes(images, boxes, labels, seed + epoch, augment == "flip")
        targets = encode(b, labels, size, detector.stride, classes)
        logs = detector.fit(x, targets, batch_size=batch_size, epochs=1, verbose=0,
                            shuffle=True).history
        for k, v in logs.items():
            history.setdefault(k, []).append(v[-1])
        log(epoch + 1, **{k: v[-1] for k, v in logs.items()})
    return history


def coco_map(true_boxes, true_labels, boxes, labels, scores, num_classes: int) -> dict:
    """COCO-style mean average precision from ``pycocotools``, the field's reference evaluator:
    ``map`` (IoU thresholds 0.50:0.95), ``map50`` (IoU 0.5) and ``per_class`` AP at 0.50:0.95
    (NaN for a class absent from the ground truth). No detections at all score 0."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    true_boxes, true_labels, real = _boxes_and_labels(true_boxes, true_labels, "true_boxes")
    boxes, labels, found = _boxes_and_labels(boxes, labels, "boxes")
    scores = np.asarray(scores, "float32")
    if len(boxes) != len(true_boxes) or scores.shape != labels.shape:
        raise ValueError(f"boxes {boxes.shape}, labels {labels.shape} and scores "
                         f"{scores.shape} must cover the same {len(true_boxes)} images")
    num_classes = args.integer(num_classes, "num_classes", 1)

    def xywh(b):
        return [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]

    annotations = [{"id": k + 1, "image_id": int(i), "category_id": int(true_labels[i, j]),
                    "bbox": xywh(true_boxes[i, j]), "iscrowd": 0,
                    "area": float((true_boxes[i, j, 2] - true_boxes[i, j, 0])
                                  * (true_boxes[i, j, 3] - true_boxes[i, j, 1]))}
                   for k, (i, j) in enumerate(zip(*np.nonzero(real)))]
    empty = {"map": 0.0, "map50": 0.0,
             "per_class": [0.0 if (true_labels == c).any() else float("nan")
                           for c in range(num_classes)]}
    if not found.any():
        return empty
    detections = [{"image_id": int(i), "category_id": int(labels[i, j]),
                   "bbox": xywh(boxes[i, j]), "score": float(scores[i, j])}
                  for i, j in zip(*np.nonzero(found))]
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints every stage
        truth = COCO()
        truth.dataset = {"images": [{"id": i} for i in range(len(true_boxes))],
                         "annotations": annotations,
                         "categories": [{"id": c} for c in range(num_classes)]}
        truth.createIndex()
        evaluation = COCOeval(truth, truth.loadRes(detections), "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    # precision: [IoU threshold, recall, class, area range, max detections]; area "all",
    # 100 detections; -1 where a class has no ground truth
    precision = evaluation.eval["precision"][:, :, :, 0, -1]
    per_class = [float(np.mean(p[p > -1])) if (p > -1).any() else float("nan")
                 for p in np.moveaxis(precision, 2, 0)]
    return {"map": float(evaluation.stats[0]), "map50": float(evaluation.stats[1]),
            "per_class": per_class}
