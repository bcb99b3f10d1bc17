"""Scoring generated images against real ones, instead of eyeballing them.

A small CNN is trained on the real labelled images. Its penultimate layer is a feature space
in which the course compares image *sets*:

- **Fréchet distance** (the main score, lower is better): fit a Gaussian to the features of
  the real images and one to the generated images, and measure how far apart the two are
  (means *and* covariances). This is the FID recipe, with a small Fashion-MNIST CNN in place of
  Inception, so the numbers are only comparable inside this course.
- **coverage**: the fraction of classes that get at least a quarter of their fair share of the
  generated images (1.0: every class is there; a collapsed GAN scores low).
- **balance**: normalised entropy of the predicted class histogram (1.0: perfectly even).
- **confidence**: mean top-class probability. Shown for contrast only: a classifier is often
  *very* confident on pure noise, so confidence alone is not a quality score.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (rows are samples).

    ``|mu_a - mu_b|^2 + trace(C_a + C_b - 2 (C_a C_b)^(1/2))``; 0 for identical sets.
    """
    a = np.asarray(features_a, dtype=np.float64)
    b = np.asarray(features_b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"need two (n, d) feature arrays with the same d, got {a.shape} and "
                         f"{b.shape}")
    if min(len(a), len(b)) < 2:
        raise ValueError("need at least 2 samples in each set")
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # trace((C_a C_b)^(1/2)) = trace((S C_b S)^(1/2)) with S = C_a^(1/2): a symmetric matrix,
    # so eigh is exact and stable even when the covariances are singular (dead ReLU features)
    w, v = np.linalg.eigh(cov_a)
    s = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    trace_covmean = np.sqrt(np.clip(np.linalg.eigvalsh(s @ cov_b @ s), 0, None)).sum()
    value = float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_covmean)
    return max(value, 0.0)


@dataclass
class Score:
    """The scores of one image set (see the module docstring)."""

    frechet: float
    coverage: float
    balance: float
    confidence: float
    n: int

    def as_dict(self) -> dict:
        return dict(frechet=self.frechet, coverage=self.coverage, balance=self.balance,
                    confidence=self.confidence)

    def __str__(self) -> str:
        return (f"Fréchet {self.frechet:7.2f} | coverage {self.coverage:.2f} | "
                f"balance {self.balance:.2f} | confidence {self.confidence:.2f} | n={self.n}")


class ImageScorer:
    """Scores image sets against ``x_reference`` in the feature space of a small CNN.

    Train it once per notebook on the real training images::

        scorer = metrics.ImageScorer(ds.x_train, ds.y_train, ds.num_classes)
        scorer.score(ds.x_test)       # the floor: real images it was not fitted on
        scorer.score(fake_images)     # a generator's samples (same count, for a fair compare)
    """

    def __init__(self, x_reference, y_reference, num_classes: int, epochs: int = 8,
                 width: int = 16, batch_size: int = 64, verbose: int = 0):
        import keras

        from .models import compile_classifier, small_cnn

        x_reference = np.asarray(x_reference, dtype="float32")
        self.num_classes = int(num_classes)
        self.classifier = compile_classifier(small_cnn(x_reference.shape[1:], self.num_classes,
                                                       width=width, name="scorer_cnn"))
        self.classifier.fit(x_reference, np.asarray(y_reference), epochs=epochs,
                            batch_size=batch_size, verbose=verbose)
        # the penultimate dense layer (before dropout and softmax) is the feature space
        feature_layer = [l for l in self.classifier.layers
                         if isinstance(l, keras.layers.Dense)][-2]
        # one forward pass gives both the features and the class probabilities
        self.features_and_probs = keras.Model(self.classifier.inputs,
                                              [feature_layer.output, self.classifier.layers[-1].output])
        self.reference_features = self.features(x_reference)

    def _run(self, images):
        return self.features_and_probs.predict(np.asarray(images, dtype="float32"), verbose=0,
                                               batch_size=256)

    def features(self, images) -> np.ndarray:
        """Feature vectors (one row per image) from the classifier's penultimate layer."""
        return self._run(images)[0]

    def accuracy(self, images, labels) -> float:
        """Plain classification accuracy of the scorer's CNN (is the feature space any good?)."""
        return float(np.mean(self._run(images)[1].argmax(axis=1) == np.asarray(labels)))

    def score(self, images) -> Score:
        """Fréchet distance to the reference set, class coverage, balance and confidence."""
        features, probs = self._run(images)
        counts = np.bincount(probs.argmax(axis=1), minlength=self.num_classes)
        share = counts / counts.sum()
        fair = 1.0 / self.num_classes
        nonzero = share[share > 0]
        entropy = float(-(nonzero * np.log(nonzero)).sum())
        return Score(
            frechet=frechet_distance(self.reference_features, features),
            coverage=float(np.mean(share >= fair / 4)),
            balance=max(0.0, entropy / np.log(self.num_classes)),
            confidence=float(probs.max(axis=1).mean()),
            n=len(images),
        )
