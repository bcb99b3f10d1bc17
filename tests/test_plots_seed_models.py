import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import cvbook  # noqa: E402
from cvbook import models, plots  # noqa: E402


@pytest.fixture
def figure(monkeypatch):
    monkeypatch.setattr(plt, "show", lambda: None)
    plt.close("all")
    yield lambda: plt.gcf()
    plt.close("all")


def test_show_images_grid_and_titles(figure):
    plots.show_images(np.random.rand(10, 8, 8, 1), titles=list("abcdefghij"), ncols=4)
    axes = figure().axes
    assert len(axes) == 12  # 3 rows of 4
    assert [a.get_title() for a in axes[:10]] == list("abcdefghij")
    assert not axes[11].images  # padding cells stay empty


def test_show_images_mixes_grey_and_colour(figure):
    plots.show_images([np.zeros((4, 4, 3)), np.zeros((4, 4, 1))])
    assert len(figure().axes) == 2


def test_plot_history_labels_axes(figure):
    plots.plot_history({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "accuracy": [0.5, 0.8]})
    loss_ax, acc_ax = figure().axes
    assert loss_ax.get_xlabel() == "epoch" and loss_ax.get_ylabel() == "loss"
    assert len(loss_ax.lines) == 2 and len(acc_ax.lines) == 1


def test_feature_maps_one_panel_per_channel(figure):
    plots.show_feature_maps(np.random.rand(1, 6, 6, 5), n=4)
    assert len([a for a in figure().axes if a.images]) == 4


def test_feature_maps_take_channel_names_and_reject_a_flat_array(figure):
    plots.show_feature_maps(np.random.rand(6, 6, 2), titles=["edges", "blur"])
    assert [a.get_title() for a in figure().axes if a.images] == ["edges", "blur"]
    with pytest.raises(ValueError, match="maps must have shape"):
        plots.show_feature_maps(np.random.rand(36))


def test_set_seed_makes_keras_reproducible():
    import keras

    cvbook.set_seed(3)
    a = keras.layers.Dense(4)(np.ones((1, 3), "float32")).numpy()
    cvbook.set_seed(3)
    b = keras.layers.Dense(4)(np.ones((1, 3), "float32")).numpy()
    assert np.array_equal(a, b)


def test_small_cnn_and_dense_baseline_shapes_and_sizes():
    cnn = models.small_cnn((16, 16, 1), 10)
    assert cnn.output_shape == (None, 10)
    # conv 3*3*1*32+32, conv 3*3*32*64+64, dense (4*4*64)*128+128, head 128*10+10
    assert cnn.count_params() == 320 + 18_496 + 131_200 + 1_290
    dense = models.dense_baseline((16, 16, 1), 10, hidden=20)
    assert dense.count_params() == 257 * 20 + 21 * 20 + 21 * 10


def test_small_cnn_learns_digits():
    """A short training run must lower the loss and beat chance by far."""
    from cvbook import data

    cvbook.set_seed(0)
    ds = data.load("digits", image_size=16, n_train=600)
    model = models.compile_classifier(models.small_cnn(ds.image_shape, 10, width=16))
    hist = model.fit(ds.x_train, ds.y_train, epochs=4, batch_size=32, verbose=0).history
    assert hist["loss"][-1] < 0.5 * hist["loss"][0]
    acc = model.evaluate(ds.x_test, ds.y_test, verbose=0, return_dict=True)["accuracy"]
    assert acc > 0.6  # chance is 0.1


def test_epoch_log_prints_a_few_lines_with_first_and_last(capsys):
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.zeros((8, 3), "float32")
    model.fit(x, x[:, :1], epochs=10, verbose=0, callbacks=[models.epoch_log(lines=3)])
    lines = [l for l in capsys.readouterr().out.splitlines() if l.startswith("epoch")]
    assert [l.split()[1] for l in lines] == ["1/10", "4/10", "8/10", "10/10"]
    assert "loss" in lines[0] and lines[0].rstrip().endswith("s)")


def test_step_log_prints_first_last_and_a_few_between(capsys):
    log = models.step_log(10, "step", lines=2)
    for i in range(10):
        log(i + 1, loss=1.0 / (i + 1))
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in lines] == ["1/10", "5/10", "10/10"]
    assert "loss 0.1000" in lines[-1]


def test_show_scenes_draws_one_labelled_box_per_garment(figure):
    from matplotlib import patches

    images = np.zeros((3, 32, 32, 1), "float32")
    boxes = np.full((3, 2, 4), -1.0, "float32")
    labels = np.full((3, 2), -1)
    boxes[0, :2], labels[0, :2] = [[1, 2, 10, 12], [5, 5, 30, 31]], [3, 0]
    boxes[2, 0], labels[2, 0] = [0, 0, 32, 32], 9
    plots.show_scenes(images, boxes, labels, [str(c) for c in range(10)], scores=np.ones((3, 2)))
    fig = plt.gcf()
    drawn = [(p.get_xy(), p.get_width()) for ax in fig.axes for p in ax.patches
             if isinstance(p, patches.Rectangle)]
    assert len(drawn) == 3 and drawn[0] == ((0.5, 1.5), 9.0)
    assert sorted(t.get_text() for ax in fig.axes for t in ax.texts) == ["0 1.00", "3 1.00",
                                                                           "9 1.00"]
    with pytest.raises(ValueError, match="boxes \\(n, k, 4\\)"):
        plots.show_scenes(images, boxes[:, :, :2], labels)
