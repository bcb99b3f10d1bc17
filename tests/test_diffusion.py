"""Diffusion helpers: schedules, the closed-form forward process, samplers, U-Net and training."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import cvbook
from cvbook import diffusion as dm


@pytest.mark.parametrize("make", [dm.linear_schedule, dm.cosine_schedule])
def test_schedules_are_valid(make):
    s = make(100)
    assert s.T == 100
    assert np.all((s.betas > 0) & (s.betas < 1))
    assert np.all((s.alphas > 0) & (s.alphas <= 1))
    assert np.all(np.diff(s.alpha_bars) < 0) and s.alpha_bars[0] > 0.99
    assert s.alpha_bars[-1] < 0.01  # the last step is (almost) pure noise
    assert np.all(np.diff(s.snr) < 0)


def test_cosine_keeps_more_signal_midway_than_linear():
    lin, cos = dm.linear_schedule(200), dm.cosine_schedule(200)
    assert cos.alpha_bars[100] > lin.alpha_bars[100]


def test_q_sample_has_the_right_mean_and_variance():
    ab = dm.cosine_schedule(50).alpha_bars
    rng = np.random.default_rng(0)
    x0 = np.full((4000, 1, 1, 1), 0.5)
    t = np.full(4000, 20)
    x_t = dm.q_sample(x0, t, rng.normal(size=x0.shape), ab)
    assert x_t.mean() == pytest.approx(np.sqrt(ab[20]) * 0.5, abs=0.03)
    assert x_t.var() == pytest.approx(1 - ab[20], rel=0.06)


def test_ddim_with_the_true_noise_recovers_x0():
    s = dm.linear_schedule(100)
    rng = np.random.default_rng(0)
    x0 = rng.uniform(-1, 1, (3, 4, 4, 1))
    eps = rng.normal(size=x0.shape)
    x_t = dm.q_sample(x0, [60] * 3, eps, s.alpha_bars)
    np.testing.assert_allclose(dm.ddim_step(x_t, 60, -1, eps, s), x0, atol=1e-5)


def test_ddpm_step_adds_noise_except_at_the_last_step():
    s = dm.linear_schedule(100)
    x, eps, z = np.ones((1, 2, 2, 1)), np.zeros((1, 2, 2, 1)), np.ones((1, 2, 2, 1))
    np.testing.assert_allclose(dm.ddpm_step(x, 0, eps, s, z), x / np.sqrt(s.alphas[0]))
    assert not np.allclose(dm.ddpm_step(x, 50, eps, s, z), x / np.sqrt(s.alphas[50]))


@pytest.mark.parametrize("size", [8, 16, 28])
def test_unet_predicts_noise_of_the_input_shape(size):
    net = dm.unet(size, 1, widths=(8, 16), embed_dim=16)
    out = net([np.zeros((2, size, size, 1), "float32"), np.array([0, 5])])
    assert out.shape == (2, size, size, 1)


def test_conditional_unet_takes_labels():
    net = dm.unet(8, 1, widths=(8, 16), embed_dim=16, num_classes=10)
    assert len(net.inputs) == 3
    out = net([np.zeros((2, 8, 8, 1), "float32"), np.array([0, 5]), np.array([3, 10])])
    assert out.shape == (2, 8, 8, 1)


def test_training_lowers_the_loss_and_sampling_gives_images():
    cvbook.set_seed(0)
    rng = np.random.default_rng(0)
    images = np.zeros((128, 8, 8, 1), "float32")
    images[:, 2:6, 2:6] = 1.0  # one simple shape: easy to learn
    images += 0.05 * rng.random(images.shape).astype("float32")
    model = dm.Diffusion(dm.unet(8, 1, (8, 16), embed_dim=16), dm.linear_schedule(20), ema=0.9)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    loss = model.fit(images, epochs=15, batch_size=32, verbose=0).history["loss"]
    assert loss[-1] < 0.6 * loss[0]
    x, traj = model.sample(6, method="ddpm", keep=4)
    assert x.shape == (6, 8, 8, 1) and x.min() >= 0 and x.max() <= 1
    assert [t for t, _ in traj][-1] == 0 and len(traj) == 4
    y = model.sample(6, method="ddim", steps=5)
    assert y.shape == (6, 8, 8, 1)
    with pytest.raises(ValueError, match="ddpm"):
        model.sample(2, method="euler")


def test_ddpm_step_clip_only_changes_steps_whose_clean_image_leaves_the_range():
    s = dm.cosine_schedule(100)
    rng = np.random.default_rng(0)
    x0 = rng.uniform(-0.9, 0.9, size=(4, 8, 8, 1))
    eps = rng.normal(size=x0.shape)
    x_t = dm.q_sample(x0, [40] * 4, eps, s.alpha_bars)
    z = rng.normal(size=x0.shape)
    # the true noise implies a clean image inside [-1, 1]: clipping changes nothing
    np.testing.assert_allclose(dm.ddpm_step(x_t, 40, eps, s, z, clip=True),
                               dm.ddpm_step(x_t, 40, eps, s, z), atol=1e-5)
    # a wild prediction implies pixels far outside: the clipped step stays closer to the data
    wild = -8 * eps
    clipped, raw = dm.ddpm_step(x_t, 40, wild, s, z, clip=True), dm.ddpm_step(x_t, 40, wild, s, z)
    assert np.abs(clipped).max() < np.abs(raw).max()


def _tiny(**kwargs):
    return dm.Diffusion(dm.unet(8, 1, (8, 16), embed_dim=16), dm.cosine_schedule(50), **kwargs)


def test_v_prediction_is_turned_back_into_the_true_noise():
    s = dm.cosine_schedule(50)
    rng = np.random.default_rng(0)
    x0, eps = rng.uniform(-1, 1, (3, 8, 8, 1)), rng.normal(size=(3, 8, 8, 1))
    model = _tiny(prediction="v")
    for t in (0, 25, 49):
        ab = s.alpha_bars[t]
        x_t = dm.q_sample(x0, [t] * 3, eps, s.alpha_bars).astype("float32")
        v = (np.sqrt(ab) * eps - np.sqrt(1 - ab) * x0).astype("float32")
        model._predict_fn = lambda inputs, v=v: tf.constant(v)  # a network that knows v
        np.testing.assert_allclose(model._predict(x_t, t), eps, atol=1e-4)
    plain = _tiny()  # noise prediction: the output is the noise as it is
    plain._predict_fn = lambda inputs: tf.constant(v)
    np.testing.assert_allclose(plain._predict(x_t, 49), v)


def test_min_snr_weights_cap_the_clean_steps():
    t = np.arange(50)
    snr = dm.cosine_schedule(50).snr
    v_weight = np.asarray(_tiny(prediction="v", min_snr=5.0)._loss_weight(t))
    eps_weight = np.asarray(_tiny(min_snr=5.0)._loss_weight(t))
    np.testing.assert_allclose(v_weight, np.minimum(snr, 5) / (snr + 1), rtol=1e-4)
    np.testing.assert_allclose(eps_weight, np.minimum(snr, 5) / snr, rtol=1e-4)
    # times SNR + 1 (what the v error weighs in the clean image): never more than gamma
    assert (v_weight * (snr + 1)).max() == pytest.approx(5.0, rel=1e-4)
    np.testing.assert_allclose(eps_weight[snr < 5], 1.0, rtol=1e-5)  # capped only above 5
    assert eps_weight[0] < 0.1
    assert _tiny()._loss_weight(t) == 1.0


def test_ema_warmup_follows_the_weights_at_first():
    images = np.random.default_rng(0).random((32, 8, 8, 1)).astype("float32")
    moved = {}
    for warm in (False, True):
        cvbook.set_seed(0)
        model = _tiny(ema=0.999, ema_warmup=warm)
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        before = [w.numpy().copy() for w in model.ema_network.weights]
        model.fit(images, epochs=1, batch_size=32, verbose=0)  # one step
        gap = [np.abs(w.numpy() - b).sum() for w, b in zip(model.ema_network.weights, before)]
        moved[warm] = sum(gap)
        assert float(model._ema_decay()) == pytest.approx(2 / 11 if warm else 0.999)
    # one step with decay 2/11 moves the average about 0.82 / 0.001 = 818 times further
    assert moved[True] > 300 * moved[False]


@pytest.mark.parametrize("kwargs, match", [(dict(prediction="x0"), "prediction"),
                                           (dict(min_snr=0.0), "min_snr")])
def test_recipe_options_reject_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _tiny(**kwargs)


def test_v_prediction_with_min_snr_trains():
    cvbook.set_seed(0)
    images = np.zeros((128, 8, 8, 1), "float32")
    images[:, 2:6, 2:6] = 1.0
    model = _tiny(prediction="v", min_snr=5.0, ema=0.9, ema_warmup=True)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    loss = model.fit(images, epochs=15, batch_size=32, verbose=0).history["loss"]
    assert loss[-1] < 0.6 * loss[0]
    x = model.sample(4, method="ddim", steps=10)
    assert x.shape == (4, 8, 8, 1) and np.isfinite(x).all()


def test_optimizer_warms_up_then_decays_to_the_final_fraction():
    opt = dm.optimizer(4e-3, 1000, warmup_steps=100, final_lr_fraction=0.02, weight_decay=1e-4)
    rate = lambda step: float(opt._learning_rate(step))
    assert isinstance(opt, keras.optimizers.AdamW) and opt.weight_decay == pytest.approx(1e-4)
    assert rate(0) == pytest.approx(0.0, abs=1e-9)
    assert rate(50) == pytest.approx(2e-3, rel=1e-3)      # halfway up the linear ramp
    assert rate(100) == pytest.approx(4e-3, rel=1e-3)     # the peak
    assert rate(550) == pytest.approx(4e-3 * (0.02 + 0.98 * 0.5), rel=1e-3)  # cosine midway
    assert rate(1000) == pytest.approx(4e-3 * 0.02, rel=1e-3)
    assert rate(400) < rate(200) < rate(100)


def test_optimizer_defaults_are_a_constant_rate_without_decay():
    opt = dm.optimizer(2e-3, 10)
    assert float(opt.learning_rate) == pytest.approx(2e-3) and opt.weight_decay == 0.0


@pytest.mark.parametrize("kwargs, match", [
    (dict(learning_rate=0.0, steps=10), "learning_rate"),
    (dict(learning_rate=1e-3, steps=0), "steps"),
    (dict(learning_rate=1e-3, steps=10, warmup_steps=10), "warmup_steps"),
    (dict(learning_rate=1e-3, steps=10, final_lr_fraction=1.5), "final_lr_fraction"),
    (dict(learning_rate=1e-3, steps=10, weight_decay=-1.0), "weight_decay")])
def test_optimizer_rejects_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        dm.optimizer(**kwargs)
