"""Scoring generated images against real ones, instead of eyeballing them.

A CNN trained on real labelled images gives a feature space (its penultimate layer) in which
the course compares image *sets*:

- **Fréchet distance** (the main score, lower is better): fit a Gaussian to the features of
  the real images and one to the generated images, and measure how far apart the two are
  (means *and* covariances). This is the FID recipe, with a small Fashion-MNIST CNN in place of
  Inception, so the numbers are only comparable inside this course.
- **KID** (kernel inception distance, lower is better): the squared maximum mean discrepancy
  between the two feature sets with a cubic polynomial kernel. Its estimate is unbiased, so
  unlike the Fréchet distance it does not grow when fewer images are scored; it can dip just
  below 0 when two sets are alike.
- **coverage**: the fraction of classes that get at least a quarter of their fair share of the
  generated images (1.0: every class is there; a collapsed GAN scores low).
- **balance**: normalised entropy of the predicted class histogram (1.0: perfectly even).
- **confidence**: mean top-class probability. Shown for contrast only: a classifier is often
  *very* confident on pure noise, so confidence alone is not a quality score.

Every chapter, lab and the benchmark score Fashion-MNIST images with one ruler,
:func:`reference_scorer`: the same CNN (trained once, shipped as a checkpoint) and the same
10,000 real training images as reference. :func:`second_scorer` is a second ruler, a network of
another architecture trained separately: where a ranking of two generators depends on which
network's features measure it, the two disagree.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from . import args

REFERENCE_IMAGES = 10_000  # real Fashion-MNIST training images the reference scorer compares to


def _two_feature_sets(features_a, features_b):
    a = args.array(features_a, "features_a", dtype=np.float64)
    b = args.array(features_b, "features_b", dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"need two (n, d) feature arrays with the same d, got {a.shape} and "
                         f"{b.shape}")
    if min(len(a), len(b)) < 2:
        raise ValueError("need at least 2 samples in each set")
    return a, b


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (rows are samples).

    ``|mu_a - mu_b|^2 + trace(C_a + C_b - 2 (C_a C_b)^(1/2))``; 0 for identical sets.
    """
    a, b = _two_feature_sets(features_a, features_b)
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # trace((C_a C_b)^(1/2)) = trace((S C_b S)^(1/2)) with S = C_a^(1/2): a symmetric matrix,
    # so eigh is exact and stable even when the covariances are singular (dead ReLU features)
    w, v = np.linalg.eigh(cov_a)
    s = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    trace_covmean = np.sqrt(np.clip(np.linalg.eigvalsh(s @ cov_b @ s), 0, None)).sum()
    value = float(np.sum((mu_a - mu_b) ** 2)
                  + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_covmean)
    return max(value, 0.0)


def kernel_inception_distance(features_a: np.ndarray, features_b: np.ndarray,
                              max_samples: int = 2000, seed: int = 0) -> float:
    """KID: unbiased squared MMD between two feature sets, kernel ``k(x, y) = (x.y / d + 1)^3``.

    Bińkowski et al. (2018). Each set is subsampled (fixed ``seed``) to at most
    ``max_samples`` rows. The within-set averages leave out the diagonal (a sample with itself),
    which makes the estimate unbiased; 0 in expectation for two samples of one distribution.
    """
    a, b = _two_feature_sets(features_a, features_b)
    rng = np.random.default_rng(seed)
    a = a[rng.permutation(len(a))[:max_samples]]
    b = b[rng.permutation(len(b))[:max_samples]]
    d, m, n = a.shape[1], len(a), len(b)
    k_aa = (a @ a.T / d + 1.0) ** 3
    k_bb = (b @ b.T / d + 1.0) ** 3
    k_ab = (a @ b.T / d + 1.0) ** 3
    within_a = (k_aa.sum() - np.trace(k_aa)) / (m * (m - 1))
    within_b = (k_bb.sum() - np.trace(k_bb)) / (n * (n - 1))
    return float(within_a + within_b - 2.0 * k_ab.mean())


@dataclass
class Score:
    """The scores of one image set (see the module docstring)."""

    frechet: float
    kid: float
    coverage: float
    balance: float
    confidence: float
    n: int

    def as_dict(self) -> dict:
        return dict(frechet=self.frechet, kid=self.kid, coverage=self.coverage,
                    balance=self.balance, confidence=self.confidence)

    def __str__(self) -> str:
        # 77 columns, so a 23-column label still fits the book's 100; n is in repr()
        return (f"Fréchet {self.frechet:6.2f} | KID {self.kid:7.4f} | "
                f"coverage {self.coverage:.2f} | balance {self.balance:.2f} | "
                f"confidence {self.confidence:.2f}")


def scorer_cnn(image_size: int = 28, num_classes: int = 10):
    """The scorer's classifier: the course's small CNN (width 32), named ``scorer_cnn``."""
    from .models import small_cnn

    return small_cnn((image_size, image_size, 1), num_classes, width=32, dropout=0.25,
                     name="scorer_cnn")


def second_scorer_cnn(image_size: int = 28, num_classes: int = 10):
    """The second scorer's classifier, named ``second_scorer_cnn``: an architecture unlike
    :func:`scorer_cnn` -- batch-normalised 3x3 convolutions (32, 64, 128) and *global
    average pooling* in place of flattening, then a 128-unit dense feature layer. Two rulers
    built differently and trained separately disagree where a ranking hangs on one network's
    features; :func:`second_scorer` loads it."""
    import keras
    from keras import layers

    def conv(width):
        return [layers.Conv2D(width, 3, padding="same", use_bias=False),
                layers.BatchNormalization(), layers.Activation("relu")]

    return keras.Sequential([
        keras.Input(shape=(image_size, image_size, 1)),
        *conv(32), layers.MaxPooling2D(2),
        *conv(64), layers.MaxPooling2D(2),
        *conv(128), layers.GlobalAveragePooling2D(),
        layers.Dense(128, activation="relu"),
        layers.Dropout(0.25),
        layers.Dense(num_classes, activation="softmax"),
    ], name="second_scorer_cnn")


class ImageScorer:
    """Scores image sets against ``x_reference`` in the feature space of a trained classifier.

    ``classifier`` is a softmax CNN whose second-to-last ``Dense`` layer gives the features.
    Images of another size than the classifier's input are resized to it first (antialiased
    bilinear), and compared with the reference images brought to *their* size: 16x16 samples
    are measured against real images at 16x16, with the same network. Scores at different
    sizes are therefore not comparable with each other; at one size they are.
    For Fashion-MNIST use :func:`reference_scorer`; :meth:`train` makes a scorer for other data.
    """

    def __init__(self, classifier, x_reference, num_classes: int):
        import keras

        self.num_classes = int(num_classes)
        self.classifier = classifier
        self.image_shape = tuple(classifier.input_shape[1:])
        # the penultimate dense layer (before dropout and softmax) is the feature space
        feature_layer = [l for l in classifier.layers if isinstance(l, keras.layers.Dense)][-2]
        # one forward pass gives both the features and the class probabilities
        self.features_and_probs = keras.Model(classifier.inputs,
                                              [feature_layer.output, classifier.layers[-1].output])
        self.x_reference = np.asarray(x_reference, dtype="float32")
        self._reference = {}  # image size -> features of the reference images at that size

    def reference_features(self, size: int) -> np.ndarray:
        """Features of the reference images brought to ``size`` x ``size`` first, so that
        images are always compared with real images of their own resolution (as FID does)."""
        if size not in self._reference:
            x = self.x_reference
            if x.shape[1] != size:
                import tensorflow as tf

                x = tf.image.resize(x, (size, size), antialias=True).numpy()
            self._reference[size] = self.features(x)
        return self._reference[size]

    @classmethod
    def train(cls, x_reference, y_reference, num_classes: int, epochs: int = 8, width: int = 16,
              batch_size: int = 64):
        """Train a small CNN on ``x_reference`` (for data without a reference scorer)."""
        from .models import compile_classifier, small_cnn

        x_reference = np.asarray(x_reference, dtype="float32")
        classifier = compile_classifier(small_cnn(x_reference.shape[1:], int(num_classes),
                                                  width=width, name="scorer_cnn"))
        classifier.fit(x_reference, np.asarray(y_reference), epochs=epochs,
                       batch_size=batch_size, verbose=0)
        return cls(classifier, x_reference, num_classes)

    def _prepare(self, images) -> np.ndarray:
        images = args.images(images, "images", channels=self.image_shape[-1])
        if images.shape[1:3] != self.image_shape[:2]:
            import tensorflow as tf

            images = tf.image.resize(images, self.image_shape[:2], antialias=True).numpy()
        return images

    def _run(self, images):
        return self.features_and_probs.predict(self._prepare(images), verbose=0, batch_size=256)

    def features(self, images) -> np.ndarray:
        """Feature vectors (one row per image) from the classifier's penultimate layer."""
        return self._run(images)[0]

    def predict(self, images) -> np.ndarray:
        """The class the scorer's CNN sees in each image."""
        return self._run(images)[1].argmax(axis=1)

    def accuracy(self, images, labels) -> float:
        """Plain classification accuracy of the scorer's CNN (is the feature space any good?)."""
        labels = args.labels(labels, "labels", len(np.asarray(images)), self.num_classes)
        return float(np.mean(self.predict(images) == labels))

    def score(self, images) -> Score:
        """Fréchet distance and KID to the reference set, class coverage, balance, confidence."""
        features, probs = self._run(images)
        if len(features) < 2:
            raise ValueError(f"images: a score needs at least 2 images, got {len(features)}")
        reference = self.reference_features(np.asarray(images).shape[1])
        counts = np.bincount(probs.argmax(axis=1), minlength=self.num_classes)
        share = counts / counts.sum()
        fair = 1.0 / self.num_classes
        nonzero = share[share > 0]
        entropy = float(-(nonzero * np.log(nonzero)).sum())
        return Score(
            frechet=frechet_distance(reference, features),
            kid=kernel_inception_distance(reference, features),
            coverage=float(np.mean(share >= fair / 4)),
            balance=max(0.0, entropy / np.log(self.num_classes)),
            confidence=float(probs.max(axis=1).mean()),
            n=len(images),
        )


@functools.lru_cache(maxsize=1)
def reference_scorer() -> ImageScorer:
    """The course's one ruler for Fashion-MNIST: the shipped ``scorer`` checkpoint (see
    ``cvbook.checkpoints``) and a fixed set of 10,000 real training images as reference.

    Loaded once per process. Its held-out accuracy is in the checkpoint manifest.
    """
    return _shipped_scorer("scorer")


@functools.lru_cache(maxsize=1)
def second_scorer() -> ImageScorer:
    """A second ruler to check the first: the shipped ``second_scorer`` checkpoint
    (:func:`second_scorer_cnn`, trained separately) with the same 10,000 reference images as
    :func:`reference_scorer`. Its numbers are on its own scale: compare rankings, not values.
    """
    return _shipped_scorer("second_scorer")


def _shipped_scorer(checkpoint: str) -> ImageScorer:
    """A shipped classifier checkpoint with the fixed 10,000 real reference images."""
    from . import checkpoints, data

    classifier = checkpoints.load(checkpoint)
    ds = data.load("fashion_mnist", n_train=REFERENCE_IMAGES, n_test=1, seed=0)
    return ImageScorer(classifier, ds.x_train, ds.num_classes)
