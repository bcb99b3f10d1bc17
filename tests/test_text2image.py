"""cvbook.text2image: the tokenizer, the text encoder, cross-attention, both denoisers, the
autoencoder and the text-conditional diffusion model."""

import keras
import numpy as np
import pytest

from cvbook import captions, diffusion
from cvbook import text2image as t2i


def test_every_caption_tokenizes_to_known_words_after_the_start_token():
    rng = np.random.default_rng(0)
    labels = rng.integers(10, size=500)
    texts = captions.caption(labels, rng.integers(2, size=(500, 3)), seed=1)
    ids = t2i.tokenize(texts)
    assert ids.shape == (500, t2i.TOKENS) and ids.dtype == np.int32
    assert (ids[:, 0] == t2i.START).all()
    assert not (ids == 1).any()                                  # 1: an unknown word
    # one id per word, as the Python reading of the text counts them, then padding
    assert ((ids[:, 1:] > 1).sum(1) == [len(t2i._words(t)) for t in texts]).all()
    assert len(set(t2i.tokenize(["a dark coat", "a light coat"])[:, 2])) == 2


def test_the_empty_prompt_is_the_start_token_alone():
    assert t2i.tokenize("").tolist() == [[t2i.START] + [0] * t2i.MAX_WORDS]
    assert t2i.tokenize("A Dark, large COAT.").tolist() == t2i.tokenize("a dark large coat").tolist()


@pytest.mark.parametrize("prompts, message", [
    ("a purple coat", "never saw: purple. It knows: a, and, ankle"),
    (["a coat", "a tall hat"], "tall, hat"),
    ("a dark light large small plain patterned ankle boot", "9 words; at most 8"),
    ([], "non-empty list"),
    ([3], "list of strings"),
])
def test_bad_prompts_are_refused_with_what_the_model_knows(prompts, message):
    with pytest.raises(ValueError, match=message):
        t2i.tokenize(prompts)


def test_cross_attention_ignores_padding_and_reads_the_real_tokens():
    x_in, text_in = keras.Input((6, 16)), keras.Input((5, 8))
    mask_in = keras.Input((5,), dtype="bool")
    model = keras.Model([x_in, text_in, mask_in], t2i.cross_attention(x_in, text_in, mask_in, 2))
    rng = np.random.default_rng(0)
    x, text = rng.normal(size=(2, 6, 16)), rng.normal(size=(2, 5, 8))
    mask = np.array([[True] * 5, [True, True, False, False, False]])
    out = model([x, text, mask]).numpy()
    changed = text.copy()
    changed[1, 2:] += 5.0                                         # only the padding
    assert np.allclose(model([x, changed, mask]).numpy(), out, atol=1e-5)
    changed[1, 0] += 5.0                                          # a real token
    assert not np.allclose(model([x, changed, mask]).numpy()[1], out[1], atol=1e-3)
    assert not np.allclose(out, x)                                # it adds something


@pytest.mark.parametrize("build", [t2i.latent_unet, t2i.latent_dit])
def test_both_denoisers_map_latents_to_latents_and_start_at_zero(build):
    net = build()
    assert 1.0e6 < net.count_params() < 2.0e6                    # the chapter compares them
    z = np.random.default_rng(0).normal(size=(3, 8, 8, 4)).astype("float32")
    out = net([z, np.array([0, 100, 249]), t2i.tokenize(["a coat", "", "a dark bag"])])
    assert out.shape == (3, 8, 8, 4)
    assert np.allclose(out, 0.0)            # zero-initialised output: a first guess of 0


def test_denoisers_of_the_default_sizes_are_within_a_tenth_of_each_other():
    unet, dit = t2i.latent_unet().count_params(), t2i.latent_dit().count_params()
    assert abs(unet - dit) / unet < 0.1


def test_the_autoencoder_calibrates_its_latents_to_mean_0_and_std_1():
    ae = t2i.autoencoder()
    images = np.random.default_rng(0).uniform(size=(64, 28, 28, 1)).astype("float32")
    ae.calibrate(images)
    z = ae.encode(images)
    assert z.shape == (64, 8, 8, 4)
    assert abs(z.mean()) < 1e-4 and abs(z.std() - 1.0) < 1e-3
    back = ae.decode(z)
    assert back.shape == (64, 28, 28, 1) and back.min() >= 0.0 and back.max() <= 1.0
    with pytest.raises(ValueError, match=r"latents must have shape \(N, 8, 8, 4\)"):
        ae.decode(np.zeros((2, 7, 7, 4)))
    with pytest.raises(ValueError, match="images"):
        ae.encode(np.zeros((2, 28, 28, 3)))


@pytest.fixture(scope="module")
def trained():
    """A TextDiffusion taught two captions, each with its own constant latent."""
    keras.utils.set_random_seed(0)
    ae = t2i.autoencoder()
    model = t2i.TextDiffusion(t2i.latent_unet(widths=(32, 32), text_dim=32, text_depth=1),
                              diffusion.cosine_schedule(50), ae, caption_dropout=0.5)
    model.compile(optimizer=diffusion.optimizer(3e-3, 120))
    latents = np.where(np.arange(512)[:, None, None, None] % 2, 1.0, -1.0) * np.ones(
        (512, 8, 8, 4), "float32")
    ids = t2i.tokenize(["a dark coat", "a light bag"] * 256)
    history = model.fit(latents, ids, batch_size=64, epochs=15, verbose=0)
    return model, history.history["loss"]


def test_text_diffusion_learns_and_its_caption_dropout_uses_the_empty_caption(trained):
    model, losses = trained
    assert losses[-1] < 0.5 * losses[0]
    ids = t2i.tokenize(["a dark coat"] * 4)
    dropped = model.drop_condition(ids, np.array([True, False, True, False])).numpy()
    assert (dropped[[0, 2]] == t2i.tokenize("")).all() and (dropped[[1, 3]] == ids[1:3]).all()


def test_text_diffusion_samples_images_and_refuses_bad_arguments(trained):
    model, _ = trained
    images = model.sample(["a dark coat", "", "a light bag"], steps=5, guidance=1.0)
    assert images.shape == (3, 28, 28, 1) and 0.0 <= images.min() and images.max() <= 1.0
    with pytest.raises(ValueError, match="guidance must be a finite number >= 0"):
        model.sample(["a coat"], guidance=-1.0)
    with pytest.raises(ValueError, match="never saw: hat"):
        model.sample(["a hat"])


def test_follows_scores_the_class_and_each_asked_attribute():
    class Scorer:
        def predict(self, images):
            return np.full(len(images), 4)                       # "coat" for all
    images = np.zeros((3, 28, 28, 1), "float32")
    images[:, 4:24, 4:24] = np.array([0.2, 0.9, 0.9]).reshape(3, 1, 1, 1)
    thresholds = np.full((10, 3), [0.5, 0.3, 0.05])
    hits = t2i.follows(images, ["a dark coat", "a light large coat", "a bag"], thresholds,
                       Scorer())
    assert hits["class"].tolist() == [1.0, 1.0, 0.0]
    np.testing.assert_array_equal(hits["tone"], [1.0, 1.0, np.nan])    # NaN: not asked
    np.testing.assert_array_equal(hits["size"], [np.nan, 1.0, np.nan])
    assert np.isnan(hits["texture"]).all()
    hits = t2i.follows(images[:1], ["a light small coat"], thresholds, Scorer())
    assert (hits["tone"][0], hits["size"][0]) == (0.0, 0.0)


def test_the_test_combinations_hold_every_held_out_one():
    combos = t2i.test_combinations()
    assert len(combos) == 20 and set(captions.HELD_OUT) <= set(combos)
    assert t2i.prompt(9, 0, 1) == "a dark large ankle boot"
    assert captions.parse(t2i.prompt(9, 0, 1)) == (9, {"tone": 0, "size": 1})


def test_the_same_unet_on_pixels_differs_only_in_its_first_and_last_convolution():
    small = dict(widths=(32, 64), text_dim=32, text_depth=1)
    latent, pixel = t2i.latent_unet(**small), t2i.latent_unet(**small, input_shape=(28, 28, 1))
    # first conv: 3 x 3 x (4 - 1) x 32 more kernel weights; last: 32 x (4 - 1) + 3 biases
    assert latent.count_params() - pixel.count_params() == 9 * 3 * 32 + 32 * 3 + 3
    model = t2i.TextDiffusion(pixel, diffusion.cosine_schedule(20), None)
    assert model.clip and not t2i.TextDiffusion(latent, diffusion.cosine_schedule(20),
                                                t2i.autoencoder()).clip
    assert np.allclose(model.to_model_space(np.array([0.0, 1.0])), [-1.0, 1.0])
    images = model.sample(["a coat", "a dark bag"], steps=3)
    assert images.shape == (2, 28, 28, 1) and 0.0 <= images.min() and images.max() <= 1.0


@pytest.mark.parametrize("shape", [(30, 30, 1), (28, 14, 1), (28, 28)])
def test_a_unet_input_the_pooling_cannot_halve_is_refused(shape):
    with pytest.raises(ValueError, match="input_shape must be"):
        t2i.latent_unet(input_shape=shape)


def test_text_diffusion_wants_an_autoencoder_or_none():
    with pytest.raises(TypeError, match="autoencoder must be an Autoencoder"):
        t2i.TextDiffusion(t2i.latent_unet(), diffusion.cosine_schedule(20), "vae")
