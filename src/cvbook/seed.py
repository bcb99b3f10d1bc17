"""One call that makes a run reproducible."""

import os
import random

import numpy as np


def set_seed(seed: int = 42, deterministic: bool = True) -> None:
    """Fix the seeds of Python, NumPy, TensorFlow and Keras.

    With ``deterministic=True`` TensorFlow is also asked to use deterministic kernels
    (``tf.config.experimental.enable_op_determinism``), so two runs on the same machine give
    the same weights and the same numbers. That costs a little speed on a GPU and nothing
    that matters on a CPU.
    """
    import keras

    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)  # Python, NumPy and the backend's global seed
    if keras.backend.backend() != "tensorflow":  # make checkpoints may run Keras on JAX
        return
    import tensorflow as tf

    # TensorFlow's global random generator (keras-cv layers draw from it) must exist before
    # op determinism is enabled, or drawing from it raises an error.
    tf.random.set_global_generator(tf.random.Generator.from_seed(seed))
    if deterministic:
        tf.config.experimental.enable_op_determinism()
