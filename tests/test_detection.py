"""The detection module: targets that decode back to the boxes, the focal loss's shape, the
detector's grid, and pycocotools' mAP on known cases."""

import numpy as np
import pytest

from cvbook import data, detection


@pytest.fixture(scope="module")
def scenes():
    return data.scenes(40, split="test", seed=3)


def test_encoded_targets_decode_back_to_the_boxes(scenes):
    heat, sizes, offsets, centres = detection.encode(scenes.boxes, scenes.labels, 64, 4, 10)
    assert heat.shape == (40, 16, 16, 10) and sizes.shape == offsets.shape == (40, 16, 16, 2)
    assert centres.sum() == scenes.counts.sum()  # one centre cell per garment
    assert heat.max() == 1.0 and np.isclose(heat[centres == 1].max(axis=-1), 1.0).all()
    boxes, labels, scores = detection.decode(heat, sizes, offsets, stride=4, max_detections=4,
                                             min_score=0.99)
    result = detection.coco_map(scenes.boxes, scenes.labels, boxes, labels, scores, 10)
    assert result["map"] > 0.99 and result["map50"] > 0.99


def test_coco_map_on_known_cases(scenes):
    truth = (scenes.boxes, scenes.labels)
    ones = np.where(scenes.labels >= 0, 1.0, 0.0)
    perfect = detection.coco_map(*truth, scenes.boxes, scenes.labels, ones, 10)
    assert perfect["map"] == pytest.approx(1.0) and perfect["map50"] == pytest.approx(1.0)
    shifted = scenes.boxes.copy()
    shifted[scenes.labels >= 0] += 1.0  # every box a pixel off in x and y: IoU 0.6-0.9
    off = detection.coco_map(*truth, shifted, scenes.labels, ones, 10)
    assert off["map50"] == pytest.approx(1.0) and 0.3 < off["map"] < 0.95
    wrong_class = np.where(scenes.labels >= 0, (scenes.labels + 1) % 10, -1)
    assert detection.coco_map(*truth, scenes.boxes, wrong_class, ones, 10)["map"] == 0.0
    none = detection.coco_map(*truth, np.full_like(scenes.boxes, -1),
                              np.full_like(scenes.labels, -1), np.zeros_like(ones), 10)
    assert none["map"] == 0.0 and none["map50"] == 0.0
    present = set(scenes.labels[scenes.labels >= 0])
    assert all(np.isnan(ap) == (c not in present) for c, ap in enumerate(none["per_class"]))


def test_focal_loss_rewards_peaks_at_centres_and_ignores_easy_background(scenes):
    heat = detection.encode(scenes.boxes, scenes.labels, 64, 4, 10)[0]
    loss = lambda pred: float(detection.focal_loss(heat, pred))  # noqa: E731
    assert loss(np.clip(heat, 0.01, 0.99)) < loss(np.full_like(heat, 0.01)) \
        < loss(np.full_like(heat, 0.5))
    assert loss(np.clip(heat, 1e-4, 1 - 1e-4)) < 0.1 * loss(np.full_like(heat, 0.01))


def test_centernet_predicts_on_a_stride_4_grid():
    from cvbook import transfer

    backbone = transfer.resnet((64, 64, 1), 5).get_layer("backbone")
    model = detection.centernet(backbone, 10, width=16)
    out = model(np.zeros((2, 64, 64, 1), "float32"))
    assert out["heatmap"].shape == (2, 16, 16, 10)
    assert out["size"].shape == out["offset"].shape == (2, 16, 16, 2)
    assert np.allclose(np.asarray(out["heatmap"]), detection.HEATMAP_PRIOR, atol=0.005)


@pytest.mark.parametrize("call, words", [
    (lambda: detection.encode([[[10, 10, 5, 20]]], [[1]], 64, 4, 10), "x2 > x1"),
    (lambda: detection.encode([[10, 10, 5, 20]], [1], 64, 4, 10), "(n, k, 4)"),
    (lambda: detection.encode([[[1, 1, 5, 5]]], [[1]], 64, 5, 10), "multiple of stride"),
    (lambda: detection.coco_map([[[1, 1, 5, 5]]], [[0]], [[[1, 1, 5, 5]]], [[0]], [[1, 1]], 10),
     "same 1 images"),
])
def test_bad_boxes_are_named(call, words):
    with pytest.raises(ValueError, match=__import__("re").escape(words)):
        call()


def test_detector_learns_boxes_beyond_an_untrained_one():
    """A short training run on 300 scenes with ``detection.train``:
    the losses go down and mAP@0.5 on held-out scenes rises well above the untrained
    detector's (which finds nothing above its prior)."""
    import cvbook
    from cvbook import transfer

    cvbook.set_seed(0)
    train, test = data.scenes(300, "train", seed=0), data.scenes(100, "test", seed=0)
    # (widths of 8 channels crash oneDNN's CPU kernels on some AVX-512 machines: 16 and up)
    backbone = transfer.resnet((64, 64, 1), 5, widths=(16, 32, 64)).get_layer("backbone")
    model = detection.Detector(detection.centernet(backbone, 10, width=16))
    before = detection.coco_map(test.boxes, test.labels, *model.detect(test.images), 10)
    history = detection.train(model, train, epochs=8, batch_size=32, learning_rate=3e-3)
    after = detection.coco_map(test.boxes, test.labels, *model.detect(test.images), 10)
    for name, ratio in (("heatmap", 0.5), ("size", 0.9), ("offset", 0.95)):
        assert history[name][-1] < ratio * history[name][0], (name, history)
    assert before["map50"] < 0.02 and after["map50"] > before["map50"] + 0.1, (before, after)
    with pytest.raises(ValueError, match="augment must be"):
        detection.train(model, train, epochs=1, augment="rotate")


def test_flips_move_the_boxes_with_the_garments_unless_told_not_to(scenes):
    images, boxes = detection.flip_scenes(scenes.images, scenes.boxes, scenes.labels, seed=0)
    flipped = (images != scenes.images).any(axis=(1, 2, 3))
    assert 0 < flipped.sum() < len(flipped)  # a random half, not all or none
    assert np.array_equal(images[flipped], scenes.images[flipped][:, :, ::-1])
    real = scenes.labels[flipped] >= 0
    mirrored = scenes.boxes[flipped][..., [2, 1, 0, 3]]  # x1' = 64 - x2, x2' = 64 - x1
    mirrored[..., [0, 2]] = 64 - mirrored[..., [0, 2]]
    assert np.allclose(boxes[flipped][real], mirrored[real])
    assert np.array_equal(boxes[~flipped], scenes.boxes[~flipped])
    assert (boxes[scenes.labels < 0] == -1).all()  # padding stays padding
    same, kept = detection.flip_scenes(scenes.images, scenes.boxes, scenes.labels, seed=0,
                                       boxes_too=False)
    assert np.array_equal(same, images) and kept is scenes.boxes


def test_the_pretrained_backbone_fits_the_detector_network():
    from cvbook import transfer

    net = detection.network(64, num_classes=10, width=8)
    source = transfer.resnet((28, 28, 1), 5).get_layer("backbone")
    net.get_layer("features").set_weights(source.get_weights())  # same shapes, same order
    assert net.count_params() > source.count_params()
    out = net(np.zeros((1, 64, 64, 1), "float32"))
    assert out["heatmap"].shape == (1, 16, 16, 10)
    assert np.allclose(np.asarray(out["size"]), detection.SIZE_PRIOR, atol=8)


def test_nms_keeps_the_best_box_per_object_and_class():
    boxes = np.array([[[0, 0, 10, 10], [1, 1, 11, 11], [30, 30, 40, 40], [0, 0, 10, 10],
                       [-1, -1, -1, -1]]], "float32")
    labels = np.array([[2, 2, 2, 5, -1]])
    scores = np.array([[0.6, 0.9, 0.5, 0.4, 0.0]], "float32")
    b, l, s = detection.nms(boxes, labels, scores, iou_threshold=0.5, max_detections=4)
    assert l.tolist() == [[2, 2, 5, -1]] and s[0, :3].tolist() == pytest.approx([0.9, 0.5, 0.4])
    assert b[0, 0].tolist() == [1, 1, 11, 11]  # the better of the two overlapping class-2 boxes
    # a looser threshold keeps both (IoU of the two is 81/119 = 0.68)
    assert (detection.nms(boxes, labels, scores, iou_threshold=0.7)[1] == 2).sum() == 3


def test_raw_candidates_repeat_a_garment_and_nms_or_peaks_thin_them(scenes):
    from scipy.ndimage import maximum_filter

    heat, sizes, offsets, _ = detection.encode(scenes.boxes, scenes.labels, 64, 4, 10)
    # like a trained network, the cells around a centre also predict a box of its size
    sizes = maximum_filter(sizes, size=(1, 3, 3, 1))
    truth = (scenes.boxes, scenes.labels)
    raw = detection.decode(heat, sizes, offsets, 4, max_detections=40, peaks=False)
    peaks = detection.decode(heat, sizes, offsets, 4, max_detections=40)
    assert (raw[1] >= 0).sum() > 3 * (peaks[1] >= 0).sum()
    assert (peaks[1] >= 0).sum() == scenes.counts.sum()
    thinned = detection.nms(*raw, iou_threshold=0.5, max_detections=40)
    assert (thinned[1] >= 0).sum() < 0.5 * (raw[1] >= 0).sum()
    assert detection.coco_map(*truth, *peaks, 10)["map"] > 0.99
