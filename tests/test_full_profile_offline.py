"""Keras reads Fashion-MNIST from its own cache folder, offline, whoever put the files there.

A temporary KERAS_HOME gets small, correctly formatted Fashion-MNIST files (gzipped IDX, the
format `keras.datasets.fashion_mnist.load_data()` reads; Keras checks no hash for them), and
the course's loader must read them through the real `keras.datasets` code, with no network.
That is the mechanism `cvbook.data.seed_keras_cache` relies on.

The full profile's notebooks themselves run offline in `make full-path`, which CI runs on the
oldest supported stack (COURSE_PROFILE=full COURSE_OVERRIDES=quick: every chapter's full code
path on the real data, for one tiny epoch). MNIST and CIFAR-10 cannot be faked this way: Keras
verifies their archives' SHA-256 and would try to download them again; for those, test_data
checks the clear offline error instead.
"""

import gzip
import os
import struct

import numpy as np
import pytest

N_TRAIN, N_TEST = 600, 150

def _write_idx(path, array):
    """IDX format: magic number (dtype uint8, ndim), big-endian sizes, then the raw bytes."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I",
                                                                    *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def synthetic_fashion_mnist(keras_home, seed=0):
    """Class k: a bright horizontal band at rows 2k..2k+5, on noise. Returns the folder."""
    rng = np.random.default_rng(seed)
    folder = os.path.join(keras_home, "datasets", "fashion-mnist")
    os.makedirs(folder, exist_ok=True)
    for prefix, n in (("train", N_TRAIN), ("t10k", N_TEST)):
        y = np.arange(n) % 10
        x = rng.integers(0, 60, size=(n, 28, 28))
        for i, k in enumerate(y):
            x[i, 2 * k + 2: 2 * k + 6, 4:24] = 230
        _write_idx(os.path.join(folder, f"{prefix}-labels-idx1-ubyte.gz"), y)
        _write_idx(os.path.join(folder, f"{prefix}-images-idx3-ubyte.gz"), x)
    return folder


@pytest.fixture()
def offline_keras_cache(tmp_path, monkeypatch):
    home = tmp_path / "keras"
    synthetic_fashion_mnist(str(home))
    monkeypatch.setenv("KERAS_HOME", str(home))
    return home


def test_the_real_loader_reads_the_synthetic_cache(offline_keras_cache):
    import subprocess
    import sys

    code = ("from cvbook import data; ds = data.load('fashion_mnist'); "
            "print(ds.x_train.shape, ds.x_test.shape, ds.num_classes, ds.class_names[0])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=os.environ.copy(), timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert f"({N_TRAIN}, 28, 28, 1) ({N_TEST}, 28, 28, 1) 10 T-shirt/top" in out.stdout
