import os
import subprocess
import sys

import numpy as np
import pytest

from cvbook import data


def test_digits_layout_and_split():
    ds = data.load("digits")
    assert ds.x_train.shape == (1347, 8, 8, 1) and ds.x_test.shape == (450, 8, 8, 1)
    assert ds.x_train.dtype == np.float32
    assert 0.0 == ds.x_train.min() and ds.x_train.max() == 1.0
    assert ds.y_train.dtype == np.int32 and set(np.unique(ds.y_test)) == set(range(10))
    assert ds.num_classes == 10 and ds.image_shape == (8, 8, 1)


def test_digits_resize_channels_and_subset():
    ds = data.load("digits", image_size=28, channels=3, n_train=100, n_test=30)
    assert ds.x_train.shape == (100, 28, 28, 3) and ds.x_test.shape == (30, 28, 28, 3)
    assert 0.0 <= ds.x_train.min() and ds.x_train.max() <= 1.0
    assert np.allclose(ds.x_train[..., 0], ds.x_train[..., 2])  # grey copied to RGB
    again = data.load("digits", image_size=28, channels=3, n_train=100, n_test=30)
    assert np.array_equal(ds.y_train, again.y_train)  # same seed, same subset


@pytest.mark.parametrize("kwargs, words", [
    (dict(name="imagenet"), ["Unknown dataset", "digits"]),
    (dict(name="digits", image_size=0), ["image_size"]),
    (dict(name="digits", image_size=2.5), ["image_size"]),
    (dict(name="digits", channels=2), ["channels"]),
    (dict(name="mnist", n_train=0), ["n_train"]),
])
def test_bad_requests_raise_one_clear_error(kwargs, words):
    with pytest.raises(data.DatasetError) as err:
        data.load(**kwargs)
    for word in words:
        assert word in str(err.value)


def test_keras_download_failure_names_cache_and_offline_alternative(monkeypatch, tmp_path):
    import keras

    def no_network():
        raise Exception("URL fetch failure: [Errno -3] Temporary failure in name resolution")

    monkeypatch.setenv(data.SYSTEM_DATASETS_ENV_VAR, str(tmp_path))  # no system copy there
    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", no_network)
    with pytest.raises(data.DatasetError) as err:
        data.load("fashion_mnist")
    msg = str(err.value)
    assert "'fashion_mnist'" in msg and data.keras_cache_dir() in msg
    # both ways out: the network, or the offline package
    assert "connect to the internet" in msg and "apt-get install dataset-fashion-mnist" in msg
    assert data.SYSTEM_DATASETS_ENV_VAR in msg
    assert err.value.__cause__ is None  # no Keras stack trace chained under it


def test_corrupt_cache_file_gives_clear_error(monkeypatch, tmp_path):
    """A truncated mnist.npz in the cache: Keras fails deep inside NumPy; we say what to do."""
    cache = tmp_path / "datasets"
    cache.mkdir()
    (cache / "mnist.npz").write_bytes(b"PK\x03\x04 not really a zip")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    import socket

    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: (_ for _ in ()).throw(
        OSError("network disabled in tests")))
    with pytest.raises(data.DatasetError) as err:
        data.load("mnist")
    assert "'mnist'" in str(err.value) and data.keras_cache_dir() in str(err.value)
    assert "dataset-fashion-mnist" in str(err.value)  # the dataset that works offline


def test_photos_are_square_colour_and_bundled():
    images, names = data.photos(size=32)
    assert images.shape == (6, 32, 32, 3) and images.dtype == np.float32
    assert names[0] == "astronaut" and 0.0 <= images.min() and images.max() <= 1.0
    assert images.std(axis=(1, 2, 3)).min() > 0.05  # real photos, not blank arrays
    with pytest.raises(data.DatasetError):
        data.photos(names=["lena"])


def test_offline_fashion_mnist_is_the_real_dataset(tmp_path):
    """The system package's files, copied into an empty Keras cache, read by Keras itself."""
    if data.system_copy("fashion_mnist") is None:
        if os.environ.get("CI"):
            pytest.fail("CI must have the offline Fashion-MNIST: .ci/run installs "
                        "dataset-fashion-mnist")
        pytest.skip("no system copy of Fashion-MNIST (apt-get install dataset-fashion-mnist)")
    code = ("import numpy as np; from cvbook import data; ds = data.load('fashion_mnist'); "
            "print(ds.x_train.shape, ds.x_test.shape, np.bincount(ds.y_train).tolist(), "
            "np.bincount(ds.y_test).tolist(), round(float(ds.x_train.mean()) * 255, 2))")
    env = {**os.environ, "KERAS_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "(60000, 28, 28, 1) (10000, 28, 28, 1)" in out.stdout
    assert f"{[6000] * 10} {[1000] * 10} 72.94" in out.stdout  # balanced classes, real pixels
    copied = sorted(os.listdir(tmp_path / "datasets" / "fashion-mnist"))
    assert copied == sorted(data.SYSTEM_DATASETS["fashion_mnist"][1])


def test_seeding_copies_only_what_is_missing(tmp_path, monkeypatch):
    system = tmp_path / "system" / "fashion-mnist"
    system.mkdir(parents=True)
    for f in data.SYSTEM_DATASETS["fashion_mnist"][1]:
        (system / f).write_bytes(b"system " + f.encode())
    monkeypatch.setenv(data.SYSTEM_DATASETS_ENV_VAR, str(tmp_path / "system"))
    monkeypatch.setattr(data, "keras_cache_dir", lambda: str(tmp_path / "cache"))
    cache = tmp_path / "cache" / "fashion-mnist"
    cache.mkdir(parents=True)
    (cache / "t10k-labels-idx1-ubyte.gz").write_bytes(b"downloaded by Keras")
    copied = data.seed_keras_cache("fashion_mnist")
    assert len(copied) == 3 and "t10k-labels-idx1-ubyte.gz" not in copied
    assert (cache / "t10k-labels-idx1-ubyte.gz").read_bytes() == b"downloaded by Keras"
    assert (cache / "train-images-idx3-ubyte.gz").read_bytes().startswith(b"system")
    assert data.seed_keras_cache("fashion_mnist") == []  # nothing left to copy
    (system / "train-images-idx3-ubyte.gz").unlink()  # an incomplete system copy is not used
    assert data.system_copy("fashion_mnist") is None


# --- detection scenes -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def train_scenes():
    return data.scenes(300, split="train", seed=0)


def test_scenes_layout_and_valid_boxes(train_scenes):
    s, n, size = train_scenes, 300, 64
    assert s.images.shape == (n, size, size, 1) and s.images.dtype == np.float32
    assert s.boxes.shape == (n, 4, 4) and s.labels.shape == (n, 4) and s.masks.shape == (n, 64, 64)
    assert 0.0 <= s.images.min() and s.images.max() <= 1.0
    real = s.labels >= 0
    assert set(np.unique(s.counts)) == {1, 2, 3, 4}
    assert np.all(s.boxes[~real] == -1) and np.all(s.sources[~real] == -1)
    b = s.boxes[real]
    assert np.all(b[:, 2] > b[:, 0]) and np.all(b[:, 3] > b[:, 1])
    assert b.min() >= 0 and b[:, 2:].max() <= size
    sides = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])
    assert sides.max() <= 0.6 * size + 1 and sides.min() >= 5


def test_scenes_masks_lie_in_their_boxes(train_scenes):
    """Every visible garment pixel carries its class and lies in a box of that class; every
    garment shows pixels of its class inside its box."""
    s = train_scenes
    for i in range(len(s)):
        inside = np.zeros((len(s.class_names) + 1, 64, 64), bool)
        for box, label in zip(s.boxes[i], s.labels[i]):
            if label < 0:
                continue
            x1, y1, x2, y2 = box.astype(int)
            inside[label + 1, y1:y2, x1:x2] = True
            assert (s.masks[i, y1:y2, x1:x2] == label + 1).any(), f"scene {i}: garment hidden"
        rows, cols = np.nonzero(s.masks[i])
        assert inside[s.masks[i][rows, cols], rows, cols].all(), f"scene {i}: stray mask pixel"


def test_scenes_draw_each_split_from_its_own_images(train_scenes):
    ds = data.load("fashion_mnist")
    test = data.scenes(200, split="test", seed=0)
    for scenes, y in ((train_scenes, ds.y_train), (test, ds.y_test)):
        real = scenes.labels >= 0
        assert np.array_equal(scenes.labels[real], y[scenes.sources[real]])
    assert test.sources.max() < len(ds.y_test) <= train_scenes.sources.max()


def test_scenes_are_deterministic_by_seed(train_scenes):
    again = data.scenes(300, split="train", seed=0)
    other = data.scenes(300, split="train", seed=1)
    for name in ("images", "boxes", "labels", "masks", "sources"):
        assert np.array_equal(getattr(train_scenes, name), getattr(again, name))
    assert not np.array_equal(train_scenes.boxes, other.boxes)


def test_scenes_overlap_at_most_max_overlap(train_scenes):
    from keras.utils import bounding_boxes

    for boxes, labels in zip(train_scenes.boxes, train_scenes.labels):
        b = boxes[labels >= 0]
        iou = np.array(bounding_boxes.compute_iou(b, b, "xyxy"))
        np.fill_diagonal(iou, 0)
        assert iou.max() <= 0.15 + 1e-6
