"""The full profile's real code path, offline: Keras loads synthetic files from its own cache.

A temporary KERAS_HOME gets small, correctly formatted Fashion-MNIST files (gzipped IDX, the
format `keras.datasets.fashion_mnist.load_data()` reads; Keras checks no hash for them). Every
notebook whose full profile uses Fashion-MNIST then runs in the full profile through the real
`keras.datasets` loader for one tiny epoch (COURSE_OVERRIDES=quick), with the result checks that need
real training switched off. MNIST and CIFAR-10 cannot be faked this way: Keras verifies their
archives' SHA-256 and would try to download them again; for those, test_data checks the clear
offline error instead.
"""

import gzip
import os
import struct

import numpy as np
import papermill as pm
import pytest

from cvbook import profiles

N_TRAIN, N_TEST = 600, 150  # fewer than quick's n_test=200: a loader that keeps what exists

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


def full_fashion_notebooks():
    keys = {k for k, p in profiles.PROFILES.items() if p["full"].get("dataset") == "fashion_mnist"}
    found = {}
    import notebooks as nbtools

    for rel in nbtools.notebooks(("chapters",)):  # solutions: same loader, smoke-tested
        with open(os.path.join(nbtools.ROOT, rel)) as f:
            text = f.read()
        for key in keys:
            if f'profiles.config(\\"{key}\\"' in text:
                found[rel] = key
    return sorted(found)


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


def test_every_fashion_mnist_notebook_is_covered():
    assert "chapters/02_cnn_training.ipynb" in full_fashion_notebooks()
    assert "chapters/03_augmentation.ipynb" in full_fashion_notebooks()
    assert "chapters/04_gans.ipynb" in full_fashion_notebooks()
    assert "chapters/05_diffusion.ipynb" in full_fashion_notebooks()


@pytest.mark.parametrize("rel", full_fashion_notebooks())
def test_full_profile_runs_offline_on_synthetic_cache(rel, offline_keras_cache, tmp_path,
                                                      monkeypatch):
    import notebooks as nbtools

    monkeypatch.setenv(profiles.OVERRIDES_ENV_VAR, "quick")
    monkeypatch.setenv(profiles.RESULTS_ENV_VAR, str(tmp_path / "results"))
    out = tmp_path / os.path.basename(rel)
    pm.execute_notebook(os.path.join(nbtools.ROOT, rel), str(out), parameters={"profile": "full"},
                        cwd=os.path.dirname(os.path.join(nbtools.ROOT, rel)), progress_bar=False,
                        kernel_name="python3")
    text = out.read_text()
    assert "profile: full" in text and "fashion_mnist" in text
    if rel.startswith("chapters"):
        assert f"({N_TEST}, 28, 28, 1)" in text  # the synthetic cache, through keras.datasets
        assert os.listdir(tmp_path / "results"), "the chapter should record its metrics"
