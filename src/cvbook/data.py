"""Datasets with one consistent layout.

Every loader returns images as NHWC ``float32`` arrays in ``[0, 1]`` and integer labels.

Two kinds of source:

- ``mnist``, ``fashion_mnist``, ``cifar10``: the real datasets, through ``keras.datasets``.
  Keras downloads each once into its cache folder (``~/.keras/datasets``). Fashion-MNIST also
  works offline: Debian and Ubuntu package the original files (``apt-get install
  dataset-fashion-mnist``), and when that system copy exists it is copied into the Keras cache
  before Keras looks there, so ``keras.datasets`` reads the real files with no network. The
  course's profiles use Fashion-MNIST in both ``smoke`` and ``full``.
- ``digits``: the 1,797 real 8x8 handwritten digits that ship inside scikit-learn, and
  :func:`photos`: colour photos that ship inside scikit-image and scikit-learn. No network
  and no system package needed.

A dataset that cannot be loaded raises :class:`DatasetError`, whose message names the dataset,
the cache folder and the offline alternative. There is no silent substitute.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
from dataclasses import dataclass, field

import numpy as np

from . import args

KERAS_DATASETS = {
    # name: (class names, download size for the error message)
    "mnist": ([str(i) for i in range(10)], "11 MB"),
    "fashion_mnist": (
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
        "30 MB",
    ),
    "cifar10": (
        ["airplane", "automobile", "bird", "cat", "deer",
         "dog", "frog", "horse", "ship", "truck"],
        "163 MB",
    ),
}
# Datasets that an operating-system package installs for offline use: name -> (the folder
# under SYSTEM_DATASETS_DIR, which is also Keras' cache subfolder, the files Keras reads, and
# the Debian / Ubuntu package that installs them).
SYSTEM_DATASETS = {
    "fashion_mnist": ("fashion-mnist",
                      ("train-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz",
                       "t10k-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz"),
                      "dataset-fashion-mnist"),
}
SYSTEM_DATASETS_DIR = "/usr/share/datasets"  # where Debian's dataset-* packages put them
SYSTEM_DATASETS_ENV_VAR = "COURSE_SYSTEM_DATASETS"  # another folder laid out the same way
OFFLINE_DATASETS = ("digits",)
DATASETS = tuple(KERAS_DATASETS) + OFFLINE_DATASETS

# The photos bundled with scikit-image (first four) and scikit-learn (last two).
PHOTO_NAMES = ("astronaut", "coffee", "chelsea", "rocket", "china", "flower")

DOWNLOAD_TIMEOUT_S = 30  # a blocked network fails after this, instead of hanging


class DatasetError(RuntimeError):
    """A dataset could not be loaded; the message says why and what to do."""


@dataclass
class Dataset:
    """Train and test splits of an image classification dataset."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str] = field(default_factory=list)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """Shape of one image, (height, width, channels)."""
        return tuple(self.x_train.shape[1:])

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.class_names)

    def __repr__(self) -> str:
        return (f"{self.name}: train {self.x_train.shape}, test {self.x_test.shape}, "
                f"{self.num_classes} classes, {self.x_train.dtype} in "
                f"[{self.x_train.min():.0f}, {self.x_train.max():.0f}]")


def keras_cache_dir() -> str:
    """The folder where ``keras.datasets`` keeps its downloads."""
    home = None
    if "keras" in sys.modules:  # Keras read $KERAS_HOME once, when it was imported: ask it
        try:
            from keras.src.backend.config import keras_home

            home = keras_home()
        except ImportError:  # another Keras layout: fall back to the documented rule
            pass
    if home is None:
        home = os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras"))
    return os.path.join(home, "datasets")


def system_datasets_dir() -> str:
    """Where the system's dataset packages are: ``$COURSE_SYSTEM_DATASETS``, else
    /usr/share/datasets."""
    return os.environ.get(SYSTEM_DATASETS_ENV_VAR) or SYSTEM_DATASETS_DIR


def system_copy(name: str) -> str | None:
    """The folder holding a complete system copy of dataset ``name``, or None."""
    if name not in SYSTEM_DATASETS:
        return None
    subdir, files, _ = SYSTEM_DATASETS[name]
    folder = os.path.join(system_datasets_dir(), subdir)
    return folder if all(os.path.isfile(os.path.join(folder, f)) for f in files) else None


def seed_keras_cache(name: str) -> list[str]:
    """Copy the system copy of ``name`` into the Keras cache, where Keras then finds it.

    Only files missing from the cache are copied; returns their names. Keras itself still
    reads and decodes them (``keras.datasets.<name>.load_data()``): no second reader.
    """
    folder = system_copy(name)
    if folder is None:
        return []
    subdir, files, _ = SYSTEM_DATASETS[name]
    cache = os.path.join(keras_cache_dir(), subdir)
    missing = [f for f in files if not os.path.isfile(os.path.join(cache, f))]
    if missing:
        os.makedirs(cache, exist_ok=True)
        for f in missing:  # copy, then rename: a reader never sees half a file
            part = os.path.join(cache, f"{f}.{os.getpid()}.part")
            shutil.copyfile(os.path.join(folder, f), part)
            os.replace(part, os.path.join(cache, f))
    return missing


def _offline_hint(name: str) -> str:
    if name in SYSTEM_DATASETS:
        subdir, _, package = SYSTEM_DATASETS[name]
        return (f"Two ways to get it: connect to the internet (Keras downloads it once), or "
                f"install the offline copy with `sudo apt-get install {package}` (Debian / "
                f"Ubuntu; it lands in {os.path.join(SYSTEM_DATASETS_DIR, subdir)}, or point "
                f"${SYSTEM_DATASETS_ENV_VAR} at a folder holding {subdir}/), then run again.")
    return (f"Offline? Use load('fashion_mnist') with its offline package "
            f"(`sudo apt-get install dataset-fashion-mnist`) or load('digits') (bundled with "
            f"scikit-learn), or copy the {name} files Keras downloads into {keras_cache_dir()}.")


def load(name: str, *, image_size: int | None = None, channels: int | None = None,
         n_train: int | None = None, n_test: int | None = None, seed: int = 0) -> Dataset:
    """Load an image classification dataset as NHWC float32 in [0, 1].

    Args:
        name: one of ``mnist``, ``fashion_mnist``, ``cifar10`` (downloaded by Keras) or
            ``digits`` (offline, bundled with scikit-learn).
        image_size: resize images to ``image_size x image_size`` (None keeps the size:
            28 for MNIST and Fashion-MNIST, 32 for CIFAR-10, 8 for digits).
        channels: 1 (grey) or 3 (colour); None keeps the dataset's own.
        n_train, n_test: keep a random subset of this many examples (None keeps all).
        seed: seed of the subset draw and of the digits train/test split.

    Raises:
        DatasetError: unknown name, bad argument, or a download / cache problem. The message
            names the cache folder and the offline alternative.
    """
    if not isinstance(name, str) or name not in DATASETS:
        raise DatasetError(f"Unknown dataset {name!r}. Choose one of {', '.join(DATASETS)}; "
                           f"for photos use cvbook.data.photos().")
    image_size = args.integer(image_size, "image_size", 4, 512, none=True, error=DatasetError)
    if channels not in (None, 1, 3) or isinstance(channels, bool):
        raise DatasetError(f"channels must be 1, 3 or None, got {channels!r}")
    n_train = args.integer(n_train, "n_train", 1, none=True, error=DatasetError)
    n_test = args.integer(n_test, "n_test", 1, none=True, error=DatasetError)
    seed = args.integer(seed, "seed", 0, error=DatasetError)

    if name == "digits":
        (x_train, y_train), (x_test, y_test) = _load_digits(seed)
        class_names = [str(i) for i in range(10)]
    else:
        (x_train, y_train), (x_test, y_test) = _load_keras(name)
        class_names = KERAS_DATASETS[name][0]

    rng = np.random.default_rng(seed)
    x_train, y_train = _subset(x_train, y_train, n_train, rng)
    x_test, y_test = _subset(x_test, y_test, n_test, rng)
    x_train = _convert(x_train, image_size, channels)
    x_test = _convert(x_test, image_size, channels)
    return Dataset(name, x_train, y_train.astype("int32"), x_test, y_test.astype("int32"),
                   class_names)


def _load_digits(seed: int):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    images = (bunch.images / 16.0).astype("float32")[..., None]  # pixel values are 0..16
    x_train, x_test, y_train, y_test = train_test_split(
        images, bunch.target, test_size=0.25, random_state=seed, stratify=bunch.target)
    return (x_train, y_train), (x_test, y_test)


def _load_keras(name: str):
    import keras

    loader = getattr(keras.datasets, name).load_data
    try:
        seed_keras_cache(name)
    except OSError as err:
        raise DatasetError(f"Could not copy the system copy of {name!r} from "
                           f"{system_copy(name)} into the Keras cache {keras_cache_dir()} "
                           f"({err}).") from None
    old_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(old_timeout or DOWNLOAD_TIMEOUT_S)
    try:
        (x_train, y_train), (x_test, y_test) = loader()
    except Exception as err:  # network down, blocked, corrupt or partial cache file...
        raise DatasetError(
            f"Could not load the {name!r} dataset ({type(err).__name__}: {err}). "
            f"Keras downloads it once (about {KERAS_DATASETS[name][1]}) into "
            f"{keras_cache_dir()}; a half-downloaded file there can be deleted and fetched "
            f"again. " + _offline_hint(name)) from None
    finally:
        socket.setdefaulttimeout(old_timeout)
    x_train = x_train.astype("float32") / 255.0
    x_test = x_test.astype("float32") / 255.0
    if x_train.ndim == 3:  # grey images come without a channel axis
        x_train, x_test = x_train[..., None], x_test[..., None]
    return (x_train, y_train.reshape(-1)), (x_test, y_test.reshape(-1))


def _subset(x, y, n, rng):
    if n is None or n >= len(x):
        return x, y
    idx = np.sort(rng.permutation(len(x))[:n])
    return x[idx], y[idx]


def _convert(x: np.ndarray, image_size: int | None, channels: int | None) -> np.ndarray:
    """Resize (antialiased bilinear) and change the number of channels."""
    if image_size is not None and x.shape[1:3] != (image_size, image_size):
        import tensorflow as tf

        x = tf.image.resize(x, (image_size, image_size), antialias=True).numpy()
    if channels == 3 and x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)
    elif channels == 1 and x.shape[-1] == 3:
        x = (x @ np.array([0.299, 0.587, 0.114], dtype="float32"))[..., None]
    return np.clip(x, 0.0, 1.0).astype("float32")


def photos(size: int = 128, names=PHOTO_NAMES) -> tuple[np.ndarray, list[str]]:
    """Colour photos that ship inside scikit-image and scikit-learn, offline.

    Each photo is centre-cropped to a square and resized to ``size x size``.

    Returns:
        (images, names): images as float32 NHWC in [0, 1], and their names.
    """
    import skimage.data
    from sklearn.datasets import load_sample_image

    size = args.integer(size, "size", 8, 1024, error=DatasetError)
    if isinstance(names, str):
        raise DatasetError(f"names must be a list of photo names, got the string {names!r}; "
                           f"write names=[{names!r}]")
    out = []
    for name in names:
        if name in ("china", "flower"):
            img = load_sample_image(f"{name}.jpg")
        elif name in PHOTO_NAMES:
            img = getattr(skimage.data, name)()
        else:
            raise DatasetError(f"Unknown photo {name!r}. Choose from {', '.join(PHOTO_NAMES)}.")
        h, w = img.shape[:2]
        s = min(h, w)
        top, left = (h - s) // 2, (w - s) // 2
        out.append(img[top:top + s, left:left + s, :3].astype("float32") / 255.0)
    images = np.stack([_convert(im[None], size, 3)[0] for im in out])
    return images, list(names)


def new_camera(images, seed: int = 0) -> np.ndarray:
    """The augmentation lab's "new camera": the same garments as a different camera sees them.

    Each image is turned by a random angle of up to 25 degrees either way (the garment sits
    askew; the corners fill with black) and gets Gaussian sensor noise of standard deviation
    0.2, clipped to [0, 1]. Deterministic for a given ``seed``. The lab asks the learner to find
    this out from the pictures, so read it only after the lab.
    """
    import keras

    images = args.images(images, "images", channels=(1, 3), error=DatasetError)
    seed = args.integer(seed, "seed", 0, error=DatasetError)
    turn = keras.layers.RandomRotation(25 / 360, fill_mode="constant", seed=seed)
    turned = np.asarray(turn(images, training=True))
    noise = np.random.default_rng(seed).normal(0.0, 0.2, images.shape).astype("float32")
    return np.clip(turned + noise, 0.0, 1.0).astype("float32")


@dataclass
class Scenes:
    """Detection scenes (:func:`scenes`): canvases with garments, their boxes, labels, masks.

    ``boxes``: ``(n, max_objects, 4)`` float32, pixel corners ``[x1, y1, x2, y2]`` (Keras'
    ``"xyxy"`` format; ``x2``, ``y2`` one past the last pixel), padded with -1 like ``labels``
    ``(n, max_objects)`` int32 (-1: no garment), the layout Keras' preprocessing layers take as
    ``{"boxes": ..., "labels": ...}``. ``masks``: ``(n, size, size)`` int32, 0 for background
    and ``class + 1`` where a garment is visible. ``sources``: the index of each garment's
    image in its split (-1 pad), so the split a scene came from can be checked.
    """

    images: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    masks: np.ndarray
    sources: np.ndarray
    split: str
    class_names: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def counts(self) -> np.ndarray:
        """Garments per scene."""
        return (self.labels >= 0).sum(axis=1)

    def bounding_boxes(self) -> dict:
        """``{"boxes", "labels"}``: what Keras' preprocessing layers take with the images."""
        return {"boxes": self.boxes, "labels": self.labels}

    def __repr__(self) -> str:
        return (f"{len(self)} {self.split} scenes of {self.images.shape[1]}x"
                f"{self.images.shape[2]}, {int(self.counts.sum())} garments")


def _box_iou(box, others) -> np.ndarray:
    """IoU of one xyxy box with each of ``others`` (k, 4): the placement rule only."""
    x1 = np.maximum(box[0], others[:, 0])
    y1 = np.maximum(box[1], others[:, 1])
    x2 = np.minimum(box[2], others[:, 2])
    y2 = np.minimum(box[3], others[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])  # noqa: E731
    return inter / (area(box) + area(others) - inter)


def scenes(n: int, split: str = "train", seed: int = 0, size: int = 64, min_objects: int = 1,
           max_objects: int = 4, scale=(0.3, 0.6), max_overlap: float = 0.15,
           noise: float = 0.05, clutter: int = 4) -> Scenes:
    """``n`` detection scenes built from real Fashion-MNIST garments of one ``split``.

    Each scene is a ``size`` x ``size`` grey canvas with Gaussian noise (standard deviation
    ``noise``) and ``clutter`` small fragments cut from other garments, dimmed. On it go
    ``min_objects`` to ``max_objects`` garments, each resized to a side of ``scale`` (fraction
    of ``size``, drawn uniformly) at a random position; a garment whose box overlaps an earlier
    one by more than ``max_overlap`` (IoU) is placed elsewhere, and later garments lie on top.
    A box is the tight box around the garment's own pixels (brighter than 0.1), also where a
    later garment covers part of it. Training scenes use only training images and test scenes
    only test images. Deterministic for a given ``seed``.
    """
    n = args.integer(n, "n", 1, error=DatasetError)
    split = args.choice(split, "split", ("train", "test"), error=DatasetError)
    seed = args.integer(seed, "seed", 0, error=DatasetError)
    size = args.integer(size, "size", 16, 512, error=DatasetError)
    min_objects = args.integer(min_objects, "min_objects", 0, error=DatasetError)
    max_objects = args.integer(max_objects, "max_objects", max(1, min_objects),
                               error=DatasetError)
    if not (isinstance(scale, (tuple, list)) and len(scale) == 2
            and 0 < float(scale[0]) <= float(scale[1]) <= 1):
        raise DatasetError(f"scale must be (smallest, largest) garment side as a fraction of "
                           f"the canvas, 0 < smallest <= largest <= 1; got {scale!r}")
    max_overlap = args.number(max_overlap, "max_overlap", 0.0, 1.0, error=DatasetError)
    noise = args.number(noise, "noise", 0.0, 1.0, error=DatasetError)
    clutter = args.integer(clutter, "clutter", 0, error=DatasetError)
    smallest = max(4, int(round(float(scale[0]) * size)))
    largest = max(smallest, int(round(float(scale[1]) * size)))
    # An area rule of thumb: the smallest garments must be able to tile the canvas with room.
    if max_objects * smallest ** 2 > 0.6 * size ** 2:
        raise DatasetError(f"max_objects={max_objects} garments of at least {smallest}x"
                           f"{smallest} pixels do not fit on a {size}x{size} canvas without "
                           f"large overlaps: lower max_objects or scale, or raise size")

    from PIL import Image

    ds = load("fashion_mnist")
    pool_x, pool_y = (ds.x_train, ds.y_train) if split == "train" else (ds.x_test, ds.y_test)
    pool = pool_x[..., 0]
    rng = np.random.default_rng(seed)
    images = np.zeros((n, size, size, 1), "float32")
    masks = np.zeros((n, size, size), "int32")
    boxes = np.full((n, max_objects, 4), -1.0, "float32")
    labels = np.full((n, max_objects), -1, "int32")
    sources = np.full((n, max_objects), -1, "int64")
    resized = {}

    def garment(index: int, side: int) -> np.ndarray:
        key = (index, side)
        if key not in resized:
            img = Image.fromarray((pool[index] * 255).astype("uint8"))
            resized[key] = np.asarray(img.resize((side, side), Image.BILINEAR),
                                      "float32") / 255.0
        return resized[key]

    for i in range(n):
        canvas = np.clip(rng.normal(0.0, noise, (size, size)), 0, 1).astype("float32")
        for _ in range(clutter):  # a fragment of some garment, dimmed
            side = int(rng.integers(4, max(5, smallest // 2)))
            src = pool[int(rng.integers(len(pool)))]
            r, c = rng.integers(0, 28 - side, 2)
            top, left = rng.integers(0, size - side, 2)
            canvas[top:top + side, left:left + side] = np.maximum(
                canvas[top:top + side, left:left + side], 0.5 * src[r:r + side, c:c + side])
        placed = 0
        for _ in range(int(rng.integers(min_objects, max_objects + 1))):
            for _attempt in range(50):
                index = int(rng.integers(len(pool)))
                side = int(rng.integers(smallest, largest + 1))
                img = garment(index, side)
                on = img > 0.1
                if not on.any():
                    continue
                top, left = (int(v) for v in rng.integers(0, size - side + 1, 2))
                rows, cols = np.nonzero(on)
                box = np.array([left + cols.min(), top + rows.min(),
                                left + cols.max() + 1, top + rows.max() + 1], "float32")
                if placed and _box_iou(box, boxes[i, :placed]).max() > max_overlap:
                    continue
                window = canvas[top:top + side, left:left + side]
                window[on] = img[on]
                masks[i, top:top + side, left:left + side][on] = pool_y[index] + 1
                boxes[i, placed], labels[i, placed] = box, pool_y[index]
                sources[i, placed] = index
                placed += 1
                break
        images[i, ..., 0] = canvas
    return Scenes(images, boxes, labels, masks, sources, split, list(ds.class_names))
