"""cvbook.transfer: the residual network, its backbone, class splits, the online path."""

import keras
import numpy as np
import pytest

import cvbook
from cvbook import transfer


def test_resnet_shapes_names_and_parameter_count():
    model = transfer.resnet(num_classes=5)
    backbone = model.get_layer("backbone")
    assert model.output_shape == (None, 5)
    assert backbone.output_shape == (None, 128)
    assert backbone.get_layer("stage3_block1_conv2").output.shape == (None, 4, 4, 128)
    convs = [l for l in backbone.layers if isinstance(l, keras.layers.Conv2D)]
    assert len(convs) == 1 + 3 * 2 + 3  # stem, two per block, a 1x1 projection per stage
    assert model.get_layer("head").count_params() == 128 * 5 + 5
    assert backbone.count_params() == 309280  # 309,925 with the 645 of the head


def test_skip_false_builds_the_same_layers_without_the_additions():
    plain = transfer.resnet(num_classes=5, blocks=2, skip=False).get_layer("backbone")
    skip = transfer.resnet(num_classes=5, blocks=2).get_layer("backbone")
    kinds = lambda m, kind: sum(isinstance(l, kind) for l in m.layers)  # noqa: E731
    assert kinds(plain, keras.layers.Add) == 0 and kinds(skip, keras.layers.Add) == 6
    # the same 3x3 convolutions; the skip version adds a 1x1 projection where shapes change
    assert kinds(skip, keras.layers.Conv2D) - kinds(plain, keras.layers.Conv2D) == 3


def test_residual_block_adds_its_input():
    x = keras.Input((8, 8, 4))
    block = keras.Model(x, transfer.residual_block(x, 4, name="b"))
    for layer in block.layers:  # zero the residual branch: the block passes relu(x) through
        if layer.name in ("b_conv2",):
            layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    data = np.random.default_rng(0).normal(size=(2, 8, 8, 4)).astype("float32")
    out = block(data, training=False)
    assert np.allclose(out, np.maximum(data, 0), atol=1e-5)


def test_pick_classes_renumbers_in_the_given_order_and_refuses_overlap():
    x = np.arange(10, dtype="float32").reshape(10, 1)
    y = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    xs, ys = transfer.pick_classes(x, y, [9, 5])
    assert xs.ravel().tolist() == [5, 9] and ys.tolist() == [1, 0]
    with pytest.raises(ValueError, match=r"target_classes \[4, 5\] overlap the source"):
        transfer.pick_classes(x, y, [4, 5], avoid=transfer.SOURCE_CLASSES,
                              name="target_classes")
    with pytest.raises(ValueError, match="classes: no image has label \\[11\\]"):
        transfer.pick_classes(x, y, [1, 11])
    with pytest.raises(ValueError, match="at least two distinct"):
        transfer.pick_classes(x, y, [3, 3])


def test_few_per_class_draws_per_class_by_seed():
    y = np.repeat(np.arange(3), 10)
    x = np.arange(30, dtype="float32")
    xa, ya = transfer.few_per_class(x, y, 4, seed=1)
    xb, _ = transfer.few_per_class(x, y, 4, seed=1)
    xc, _ = transfer.few_per_class(x, y, 4, seed=2)
    assert np.bincount(ya).tolist() == [4, 4, 4] and np.array_equal(xa, xb)
    assert not np.array_equal(xa, xc)
    with pytest.raises(ValueError, match="per_class=11, but class 0 has only 10"):
        transfer.few_per_class(x, y, 11)


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="num_classes must be at least 2"):
        transfer.resnet(num_classes=1)
    with pytest.raises(ValueError, match="widths must be a non-empty list"):
        transfer.resnet(widths=())
    with pytest.raises(ValueError, match="input_shape must be"):
        transfer.resnet(input_shape=(28, 28))
    backbone = transfer.resnet(num_classes=5, widths=(4, 8, 8)).get_layer("backbone")
    with pytest.raises(ValueError, match="num_classes must be at least 2"):
        transfer.with_new_head(backbone, 1)
    with pytest.raises(ValueError, match="steps must be at least 1"):
        transfer.train(None, np.zeros((2, 1)), np.zeros(2), 0)


def _moving_mean_change(backbone, model):
    norm = backbone.get_layer("stage3_block1_bn1")
    before = norm.moving_mean.numpy().copy()
    x = np.random.default_rng(0).random((16, 28, 28, 1), dtype="float32")
    model.fit(x, np.arange(16) % 2, batch_size=16, epochs=1, verbose=0)
    return float(np.abs(norm.moving_mean.numpy() - before).max())


def test_in_fit_keras_3_overrides_training_false_and_only_frozen_batch_norm_holds():
    """What the chapter states about batch norm: `backbone(inputs, training=False)` does not
    keep an unfrozen backbone's batch norm in inference mode during fit (the outer training=True
    wins), and transfer.unfreeze_top, which leaves batch norm frozen, does."""
    cvbook.set_seed(0)
    backbone = transfer.resnet(num_classes=5, widths=(4, 8, 8)).get_layer("backbone")
    inputs = keras.Input((28, 28, 1))
    model = keras.Model(inputs, keras.layers.Dense(2)(backbone(inputs, training=False)))
    backbone.trainable = True
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    assert _moving_mean_change(backbone, model) > 1e-4
    model = transfer.with_new_head(backbone, 2)
    transfer.unfreeze_top(backbone)
    transfer.compile_model(model, 1e-3)
    assert _moving_mean_change(backbone, model) == 0.0
    trainable = {l.name for l in backbone.layers if l.trainable and l.weights}
    assert trainable and all(n.startswith("stage3") and "bn" not in n for n in trainable)
    with pytest.raises(ValueError, match="stage 'stage9'.*'stage1', 'stage2', 'stage3'"):
        transfer.unfreeze_top(backbone, "stage9")


def test_changing_trainable_needs_a_compile_to_take_effect():
    """The chapter's first pitfall, as Keras 3 behaves: fit after unfreezing, without
    compiling again, leaves the backbone untouched; after compile it moves."""
    cvbook.set_seed(0)
    backbone = transfer.resnet(num_classes=5, widths=(4, 8, 8)).get_layer("backbone")
    backbone.trainable = False
    model = transfer.compile_model(transfer.with_new_head(backbone, 2), 1e-3)
    x = np.random.default_rng(0).random((16, 28, 28, 1), dtype="float32")
    y = np.arange(16) % 2
    transfer.train(model, x, y, 2)
    before = [w.numpy().copy() for w in backbone.weights]
    backbone.trainable = True
    transfer.train(model, x, y, 2)
    assert all(np.array_equal(b, w.numpy()) for b, w in zip(before, backbone.weights))
    transfer.compile_model(model, 1e-3)
    transfer.train(model, x, y, 2)
    assert not all(np.array_equal(b, w.numpy()) for b, w in zip(before, backbone.weights))


def test_online_backbone_offline_says_what_it_needs(monkeypatch):
    def no_network(**kwargs):
        raise Exception("URL fetch failure on https://example.invalid/weights.h5: None")

    monkeypatch.setattr(keras.applications, "MobileNetV3Small", no_network)
    with pytest.raises(transfer.OnlineBackboneError) as err:
        transfer.imagenet_backbone()
    message = str(err.value)
    assert "needs the internet" in message and "online=False" in message
    assert "checkpoints.load('backbone')" in message
    with pytest.raises(ValueError, match="image_size must be at least 32"):
        transfer.imagenet_backbone(16)
