"""Bad input, everywhere a learner types: each gets an error that names the argument and says
what is expected, never a bare error from inside NumPy or Keras, never a silent substitute.

``CASES`` lists every bad input tried on the package's public entry points; ``ANSWERS`` the
half-finished answers every lab check is handed. The closing note of issue 14 counts them.
"""

import inspect

import keras
import numpy as np
import pytest

from cvbook import applications as app
from cvbook import checkpoints, data, diffusion, gan, metrics, plots, profiles, transfer
from cvbook.checks import LabCheckError
from cvbook.checks import applications as checks_app
from cvbook.checks import augmentation as checks_aug
from cvbook.checks import cnn as checks_cnn
from cvbook.checks import detection as checks_det
from cvbook.checks import diffusion as checks_diff
from cvbook.checks import gans as checks_gans
from cvbook.checks import transfer as checks_transfer

IMAGES = np.random.default_rng(0).random((4, 8, 8, 1)).astype("float32")


@pytest.fixture(scope="module")
def tiny():
    """Small models to call the samplers and scorers on (built once, untrained)."""
    scorer = metrics.ImageScorer(metrics.scorer_cnn(8), IMAGES, 10)
    uncond = diffusion.Diffusion(diffusion.unet(8, 1, (8, 16)), diffusion.linear_schedule(10))
    cond = diffusion.Diffusion(diffusion.unet(8, 1, (8, 16), num_classes=10),
                               diffusion.linear_schedule(10), num_classes=10)
    g = gan.GAN(gan.dcgan_generator(4, 8, width=4), gan.dcgan_discriminator((8, 8, 1), 4), 4)
    backbone = transfer.resnet(num_classes=5, widths=(4, 8, 8)).get_layer("backbone")
    return dict(scorer=scorer, uncond=uncond, cond=cond, gan=g, backbone=backbone)


def nan_images():
    x = IMAGES.copy()
    x[0, 0, 0, 0] = np.nan
    return x


# (id, call taking the `tiny` fixture, exception type, words the message must hold)
CASES = [
    # data
    ("load n_train str", lambda m: data.load("digits", n_train="10"), data.DatasetError,
     "n_train must be an int"),
    ("load n_train 0", lambda m: data.load("digits", n_train=0), data.DatasetError,
     "n_train must be at least 1"),
    ("load n_train float", lambda m: data.load("digits", n_train=2.5), data.DatasetError,
     "n_train must be an int"),
    ("load n_test bool", lambda m: data.load("digits", n_test=True), data.DatasetError,
     "n_test must be an int"),
    ("load image_size str", lambda m: data.load("digits", image_size="28"), data.DatasetError,
     "image_size must be an int"),
    ("load image_size big", lambda m: data.load("digits", image_size=1000), data.DatasetError,
     "image_size must be between 4 and 512"),
    ("load channels 2", lambda m: data.load("digits", channels=2), data.DatasetError,
     "channels must be 1, 3 or None"),
    ("load seed -1", lambda m: data.load("digits", seed=-1), data.DatasetError,
     "seed must be at least 0"),
    ("load unknown", lambda m: data.load("imagenet"), data.DatasetError, "Unknown dataset"),
    ("load None", lambda m: data.load(None), data.DatasetError, "Unknown dataset"),
    ("scenes too many", lambda m: data.scenes(2, max_objects=20), data.DatasetError,
     "max_objects=20 garments"),
    ("scenes split", lambda m: data.scenes(2, split="val"), data.DatasetError, "split"),
    ("scenes scale", lambda m: data.scenes(2, scale=(0.5, 0.2)), data.DatasetError,
     "scale must be (smallest, largest)"),
    ("scenes n 0", lambda m: data.scenes(0), data.DatasetError, "n must be"),
    ("photos size str", lambda m: data.photos(size="big"), data.DatasetError,
     "size must be an int"),
    ("photos names str", lambda m: data.photos(names="coffee"), data.DatasetError,
     "names must be a list"),
    ("photos unknown", lambda m: data.photos(names=["dog"]), data.DatasetError, "Unknown photo"),
    # profiles (arguments; the environment variables are in test_env_overrides below)
    ("config unknown", lambda m: profiles.config("nope", "smoke"), KeyError, "No profiles"),
    ("config profile", lambda m: profiles.config("gans", "gpu"), ValueError, "Unknown profile"),
    ("config knob", lambda m: profiles.config("gans", "smoke", epochs=1), KeyError,
     "not a knob"),
    ("config int str", lambda m: profiles.config("gans", "smoke", dcgan_epochs="3"), ValueError,
     "'dcgan_epochs' of 'gans' must be an int"),
    ("config int float", lambda m: profiles.config("gans", "smoke", dcgan_epochs=2.5),
     ValueError, "must be an int"),
    ("config float str", lambda m: profiles.config("gans", "smoke", dcgan_g_lr="fast"),
     ValueError, "must be a number"),
    ("config bool str", lambda m: profiles.config("gans", "smoke", use_checkpoints="no"),
     ValueError, "must be true or false"),
    # plots
    ("show_images None", lambda m: plots.show_images(None), TypeError, "images must be"),
    ("show_images 2-d", lambda m: plots.show_images(np.zeros((2, 5))), ValueError,
     "images[0] has shape (5,)"),
    ("show_images titles", lambda m: plots.show_images(np.zeros((2, 8, 8)), titles=["a"]),
     ValueError, "one title per image"),
    ("show_images ncols", lambda m: plots.show_images(np.zeros((2, 8, 8)), ncols=0),
     ValueError, "ncols must be a positive int"),
    ("show_images empty", lambda m: plots.show_images([]), ValueError, "images is empty"),
    ("plot_history None", lambda m: plots.plot_history(None), TypeError, "history must be"),
    ("plot_history metric", lambda m: plots.plot_history({"loss": [1.0]}, metrics=("acc",)),
     ValueError, "none of the metrics ['acc']"),
    ("show_source int", lambda m: plots.show_source(42), TypeError, "show_source takes"),
    # metrics
    ("frechet widths", lambda m: metrics.frechet_distance(np.zeros((5, 3)), np.zeros((5, 4))),
     ValueError, "same d"),
    ("frechet nan", lambda m: metrics.frechet_distance(np.full((5, 3), np.nan), np.zeros((5, 3))),
     ValueError, "features_a contains NaN"),
    ("frechet one row", lambda m: metrics.frechet_distance(np.zeros((1, 3)), np.zeros((5, 3))),
     ValueError, "at least 2"),
    ("kid None", lambda m: metrics.kernel_inception_distance(None, np.zeros((5, 3))), TypeError,
     "features_a must be an array"),
    ("score 3-d", lambda m: m["scorer"].score(IMAGES[..., 0]), ValueError,
     "images must be a 4-d array"),
    ("score 0..255", lambda m: m["scorer"].score(IMAGES * 255), ValueError,
     "values in [0, 1]"),
    ("score nan", lambda m: m["scorer"].score(nan_images()), ValueError,
     "images contains NaN"),
    ("score rgb", lambda m: m["scorer"].score(np.repeat(IMAGES, 3, -1)), ValueError,
     "must have 1 channel"),
    ("score one image", lambda m: m["scorer"].score(IMAGES[:1]), ValueError, "at least 2 images"),
    ("score list of str", lambda m: m["scorer"].score(["a", "b"]), TypeError,
     "images must be a numeric array"),
    ("accuracy labels", lambda m: m["scorer"].accuracy(IMAGES, [1, 2]), ValueError,
     "one label per image (4)"),
    ("accuracy label range", lambda m: m["scorer"].accuracy(IMAGES, [0, 1, 2, 10]), ValueError,
     "class indices in 0..9"),
    # GAN
    ("dcgan latent str", lambda m: gan.dcgan_generator(latent_dim="64"), TypeError,
     "latent_dim must be an int"),
    ("dcgan size 30", lambda m: gan.dcgan_generator(image_size=30), ValueError,
     "multiple of 4"),
    ("gan sample 0", lambda m: m["gan"].sample(0), ValueError, "n must be at least 1"),
    ("gan sample seed", lambda m: m["gan"].sample(2, seed="a"), TypeError,
     "seed must be an int"),
    # diffusion
    ("linear T 1", lambda m: diffusion.linear_schedule(1), ValueError, "T must be at least 2"),
    ("cosine T str", lambda m: diffusion.cosine_schedule("100"), TypeError, "T must be an int"),
    ("unet size", lambda m: diffusion.unet(18, 1, (8, 16)), ValueError,
     "divisible by 2**len(widths) = 4"),
    ("sample method", lambda m: m["uncond"].sample(2, method="euler"), ValueError,
     "method must be one of 'ddpm', 'ddim'"),
    ("sample steps 0", lambda m: m["uncond"].sample(2, steps=0, method="ddim"), ValueError,
     "steps must be between 1 and 10"),
    ("sample n -1", lambda m: m["uncond"].sample(-1), ValueError, "n must be at least 1"),
    ("sample labels len", lambda m: m["cond"].sample(2, labels=[1]), ValueError,
     "one label per image (2)"),
    ("sample labels range", lambda m: m["cond"].sample(2, labels=[1, 12]), ValueError,
     "class indices in 0..9"),
    ("sample guidance uncond", lambda m: m["uncond"].sample(2, guidance=3.0), ValueError,
     "class-conditional model"),
    ("sample guidance str", lambda m: m["cond"].sample(2, guidance="high"), TypeError,
     "guidance must be a number"),
    ("checkpoint unknown", lambda m: checkpoints.load("resnet50"), checkpoints.CheckpointError,
     "No checkpoint named 'resnet50'"),
    # transfer
    ("target overlaps source", lambda m: transfer.pick_classes(
        IMAGES, [0, 4, 5, 6], [4, 5], avoid=transfer.SOURCE_CLASSES, name="target_classes"),
     ValueError, "target_classes [4, 5] overlap the source classes"),
    ("target label absent", lambda m: transfer.pick_classes(IMAGES, [0, 1, 1, 0], [1, 7]),
     ValueError, "no image has label [7]"),
    ("new head 1 class", lambda m: transfer.with_new_head(m["backbone"], 1), ValueError,
     "num_classes must be at least 2"),
    ("new head 2.5 classes", lambda m: transfer.with_new_head(m["backbone"], 2.5), TypeError,
     "num_classes must be an int"),
    ("unfreeze unknown stage", lambda m: transfer.unfreeze_top(m["backbone"], "stage7"),
     ValueError, "stage 'stage7'"),
    ("few_per_class too many", lambda m: transfer.few_per_class(IMAGES, [0, 0, 1, 1], 3),
     ValueError, "per_class=3, but class 0 has only 2"),
    ("resnet blocks 0", lambda m: transfer.resnet(blocks=0), ValueError,
     "blocks must be between 1 and 8"),
    # applications
    ("subset per_class 0", lambda m: app.balanced_subset([0, 1, 1], 0), ValueError,
     "per_class must be at least 1"),
    ("subset too few", lambda m: app.balanced_subset([0, 1, 1], 2), ValueError,
     "fewer than per_class=2"),
    ("mix per_class -1", lambda m: app.mix(IMAGES, [0] * 4, IMAGES, [0] * 4, -1), ValueError,
     "per_class must be at least 0"),
    ("edit t_start", lambda m: app.edit(m["uncond"], IMAGES, 10), ValueError,
     "t_start must be between 0 and 9"),
    ("edit 0..255", lambda m: app.edit(m["uncond"], IMAGES * 255, 5), ValueError,
     "values in [0, 1]"),
    ("edit mask shape", lambda m: app.edit(m["uncond"], IMAGES, 5, mask=np.ones((1, 4, 4, 1))),
     ValueError, "does not fit images"),
    ("edit mask values", lambda m: app.edit(m["uncond"], IMAGES, 5,
                                            mask=np.full((1, 8, 8, 1), 0.5)),
     ValueError, "mask must hold 1"),
    ("downsample factor", lambda m: app.downsample(IMAGES, 3), ValueError, "must divide"),
    ("psnr shapes", lambda m: app.psnr(IMAGES, IMAGES[:2]), ValueError, "same shape"),
]


@pytest.mark.parametrize("call, error, words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_gets_a_clear_error(tiny, call, error, words):
    with pytest.raises(error) as info:
        call(tiny)
    assert words in str(info.value)


@pytest.mark.parametrize("value, words", [
    ('{"epochs": 1', "$COURSE_OVERRIDES is not valid JSON"),
    ("[1]", "$COURSE_OVERRIDES must be a JSON object"),
    ('{"dcgan_epochs": "two"}', "$COURSE_OVERRIDES: knob 'dcgan_epochs'"),
    ('{"check_results": "false"}', "check_results must be true or false"),
])
def test_env_overrides_are_checked(monkeypatch, value, words):
    monkeypatch.setenv("COURSE_OVERRIDES", value)
    with pytest.raises(ValueError) as info:
        profiles.config("gans", "smoke")
    assert words in str(info.value)


def test_env_profile_is_checked(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "fast")
    with pytest.raises(ValueError, match=r"Unknown profile 'fast'.*\$COURSE_PROFILE"):
        profiles.config("gans")


# --- every lab check, handed half-finished answers ------------------------------------------

CHECKS = [obj for module in (checks_cnn, checks_aug, checks_gans, checks_diff, checks_app,
                             checks_transfer, checks_det)
          for name, obj in vars(module).items() if name.startswith("check_")
          and inspect.isfunction(obj) and obj.__module__ == module.__name__]
# arguments that are not the learner's answer: the lab passes these, and passes them right
CONTEXT = dict(images=np.random.default_rng(1).random((4, 32, 32, 3)).astype("float32"),
               latent_dim=8, image_size=28, x_test=np.zeros((4, 28, 28, 1), "float32"),
               y_test=np.zeros(4, "int32"), target=0.5,
               real=np.random.default_rng(2).random((4, 28, 28, 1)).astype("float32"),
               x_all=np.zeros((6, 28, 28, 1), "float32"), y_all=np.array([5, 7, 8, 9, 0, 1]),
               make_backbone=lambda: transfer.resnet(num_classes=5, widths=(4, 8, 8)).get_layer(
                   "backbone"),
               x=np.zeros((4, 28, 28, 1), "float32"), y=np.arange(4), minimum=0.5,
               what="test accuracy")
# the detection lab's checks (checks_det) take only the learner's function, and check_map the
# coco_map result with `minimum` above: they make their own boxes, maps and scenes
_frozen = transfer.resnet(num_classes=5, widths=(4, 8, 8)).get_layer("backbone")
_frozen.trainable = False
CONTEXT["probe"] = transfer.compile_model(transfer.with_new_head(_frozen, 4), 1e-3)


def _crash(*args, **kwargs):
    raise RuntimeError("half-finished")


def _stub(*args, **kwargs):
    raise NotImplementedError  # the labs' function stubs before the learner writes them


ANSWERS = {
    "None (a TODO left)": None,
    "an int": 42,
    "a string": "todo",
    "a function returning None": lambda *a, **k: None,
    "a function returning NaNs": lambda *a, **k: np.full((3,), np.nan),
    "a function that crashes": _crash,
    "a function raising NotImplementedError (a stub)": _stub,
    "an empty Keras model": keras.Sequential(),
    "a function returning an empty Keras model": lambda *a, **k: keras.Sequential(),
}


@pytest.mark.parametrize("answer", list(ANSWERS), ids=list(ANSWERS))
@pytest.mark.parametrize("check", CHECKS, ids=[c.__name__ for c in CHECKS])
def test_every_lab_check_gives_a_hint_for_a_half_finished_answer(check, answer):
    params = inspect.signature(check).parameters
    kwargs = {name: CONTEXT[name] if name in CONTEXT else ANSWERS[answer]
              for name, p in params.items() if p.default is inspect.Parameter.empty}
    with pytest.raises(LabCheckError) as info:
        check(**kwargs)
    assert str(info.value).strip(), "a hint, not an empty message"


def test_there_are_checks_to_sweep():
    assert len(CHECKS) >= 20


def test_a_crash_in_the_learners_code_points_at_their_line():
    def renoise(x_s, s, t, noise, alpha_bars):
        return x_s * np.sqr(alpha_bars)  # the learner's typo: np.sqrt

    with pytest.raises(LabCheckError) as info:
        checks_diff.check_renoise(renoise)
    message = str(info.value)
    assert "AttributeError" in message and "sqr" in message
    assert "x_s * np.sqr(alpha_bars)" in message  # the line in the learner's code
