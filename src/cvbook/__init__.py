"""cvbook: the small helper package behind the course book.

Notebooks import it so that they can stay about ideas rather than plumbing:

- :mod:`cvbook.profiles` -- the ``smoke`` and ``full`` run profiles of every notebook;
- :mod:`cvbook.data` -- datasets (Keras downloads, plus offline data bundled with scikit-learn
  and scikit-image) with one consistent shape and value range;
- :mod:`cvbook.plots` -- image grids, training curves, feature maps, and `show_source`;
- :mod:`cvbook.models` -- the CNN builders and a compact training log (`epoch_log`);
- :mod:`cvbook.transfer` -- a small ResNet, its backbone, new heads, fine-tuning;
- :mod:`cvbook.detection` -- a CenterNet-style detector and COCO mean average precision;
- :mod:`cvbook.gan` -- GAN builders, a ``keras.Model`` with a custom ``train_step``, a sample grid;
- :mod:`cvbook.translation` -- image-to-image translation: pix2pix and CycleGAN;
- :mod:`cvbook.diffusion` -- schedules, forward process, U-Net, DDPM / DDIM samplers;
- :mod:`cvbook.applications` -- generated training data, image editing, super-resolution;
- :mod:`cvbook.captions` -- captions from measured attributes, for text-to-image;
- :mod:`cvbook.metrics` -- Fréchet distance, KID, class coverage and balance of generated images;
- :mod:`cvbook.checkpoints` -- the shipped trained weights, verified by their SHA-256;
- :mod:`cvbook.checks` -- the automatic checks of the labs;
- :func:`set_seed` -- reproducible runs.

Heavy imports (TensorFlow, Keras) happen inside functions, so ``import cvbook`` is quick.
"""

from .seed import set_seed

__all__ = ["set_seed"]
__version__ = "0.1.0"
