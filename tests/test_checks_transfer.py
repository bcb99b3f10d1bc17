"""The transfer lab's checks accept the right answers and reject the classic mistakes with a
hint. Small backbones (the same architecture, narrow) keep this fast."""

import keras
import numpy as np
import pytest

import cvbook
from cvbook import transfer
from cvbook.checks import transfer as checks


def small_backbone():
    cvbook.set_seed(0)
    return transfer.resnet(num_classes=5, widths=(4, 8, 8)).get_layer("backbone")


def extractor(freeze=True, units=4, loss="sparse_categorical_crossentropy", act="softmax",
              compile=True):
    def build(backbone, num_classes):
        backbone.trainable = not freeze
        inputs = keras.Input((28, 28, 1))
        outputs = keras.layers.Dense(units, activation=act)(backbone(inputs))
        model = keras.Model(inputs, outputs)
        if compile:
            model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss)
        return model
    return build


def tuner(stage="stage3", norm_frozen=True, rate=1e-3, recompile=True):
    def fine_tune(model):
        backbone = next(l for l in model.layers if isinstance(l, keras.Model))
        compile_ = lambda: model.compile(optimizer=keras.optimizers.Adam(rate),  # noqa: E731
                                         loss="sparse_categorical_crossentropy")
        backbone.trainable = True
        for layer in backbone.layers:
            norm = isinstance(layer, keras.layers.BatchNormalization)
            layer.trainable = layer.name.startswith(stage) and not (norm and norm_frozen)
        if recompile:
            compile_()
        return model
    return fine_tune


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return rng.random((32, 28, 28, 1), dtype="float32"), np.arange(32) % 4


def test_shop_labels_accepts_the_remapped_set_and_names_mistakes(capsys, rejects):
    y_all = np.array([5, 0, 9, 7, 8, 1, 5, 9])
    x_all = np.arange(8, dtype="float32")[:, None]
    keep = np.isin(y_all, checks.SHOP_CLASSES)
    right = np.searchsorted(checks.SHOP_CLASSES, y_all[keep])
    checks.check_shop_labels(x_all[keep], right, x_all, y_all)
    assert "6 shop images" in capsys.readouterr().out
    rejects(lambda: checks.check_shop_labels(None, None, x_all, y_all), "still a TODO")
    rejects(lambda: checks.check_shop_labels(x_all[keep], y_all[keep], x_all, y_all),
            "still holds the original labels")
    rejects(lambda: checks.check_shop_labels(x_all[keep], 3 - right, x_all, y_all),
            "numbered in another order")
    rejects(lambda: checks.check_shop_labels(x_all[:6], right, x_all, y_all),
            "shuffle")
    rejects(lambda: checks.check_shop_labels(x_all, y_all, x_all, y_all),
            "has 6 images of classes")


def test_feature_extractor_accepts_the_recipe(capsys):
    checks.check_feature_extractor(extractor(), small_backbone)
    assert "frozen backbone, new 4-way softmax head" in capsys.readouterr().out


@pytest.mark.parametrize("answer, hint", [
    (lambda b, k: None, "still a TODO"),
    (extractor(freeze=False), "backbone is still trainable"),
    (extractor(units=5), "needs Dense(4, activation='softmax')"),
    (extractor(loss="categorical_crossentropy"), "use 'sparse_categorical_crossentropy'"),
    (extractor(act="relu"), "should end in a softmax"),
    (extractor(compile=False), "Compile the model"),
])
def test_feature_extractor_names_the_mistake(answer, hint, rejects):
    rejects(lambda: checks.check_feature_extractor(answer, small_backbone), hint)


def test_fine_tune_accepts_the_recipe(capsys, data):
    model = extractor()(small_backbone(), 4)
    checks.check_fine_tune(tuner(), model, *data)
    assert "top stage unfrozen (batch norm frozen)" in capsys.readouterr().out


@pytest.mark.parametrize("answer, hint", [
    (None, "still a TODO"),
    (tuner(recompile=False), "Compile again *after* changing `trainable`"),
    (tuner(norm_frozen=False), "batch-norm layers of the top stage are trainable"),
    (tuner(rate=1e-5), "learning rate is 1e-05: in a short run"),
    (tuner(rate=0.1), "learning rate is 0.1: larger steps"),
    (tuner(stage="stage"), "layers below the top stage are trainable too"),
    (tuner(stage="nothing"), "The top stage is still frozen"),
])
def test_fine_tune_names_the_mistake(answer, hint, rejects, data):
    model = extractor()(small_backbone(), 4)
    model.fit(*data, batch_size=32, epochs=1, verbose=0)  # as in the lab: the head trained
    rejects(lambda: checks.check_fine_tune(answer, model, *data), hint)


def test_accuracy_check(capsys, rejects):
    checks.check_accuracy(0.9, 0.8, "accuracy")
    assert "accuracy 0.900 >= 0.80" in capsys.readouterr().out
    rejects(lambda: checks.check_accuracy(0.5, 0.8, "accuracy"), "below 0.80")
    rejects(lambda: checks.check_accuracy(None, 0.8, "accuracy"), "still a TODO")
