"""Train the course's checkpoints from scratch and write their manifest; or verify them.

    python tools/train_checkpoints.py build [NAME ...]   # make checkpoints: retrain, rewrite manifest
    python tools/train_checkpoints.py verify             # sha256, load into current code, fingerprints

Each checkpoint is trained with the course's own code and the full profile's recipe of the
chapter it belongs to, on the real Fashion-MNIST (offline through its system package). The
weights go to ``src/cvbook/weights/<name>.weights.h5`` and ``manifest.json`` records what each
file is, how it was made (command, dataset, knobs, epochs, wall time, hardware), its scores
with the reference scorer, a small fixed-sample *fingerprint* that the tests recompute, and
its SHA-256. The scorer is trained first: every other checkpoint is scored with it.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
COMMAND = "make checkpoints"
ORDER = ("scorer", "second_scorer", "cnn", "dcgan", "cgan", "diffusion", "autoencoder",
         "text2image", "backbone", "resnet", "detector")
FINGERPRINT_RTOL = 0.02  # the tests accept this relative deviation from a recorded fingerprint

def _resnet_spec(what, classes):
    """The transfer chapter's ResNet (cvbook.transfer.resnet), on all ten classes
    (``classes=None``) or on some; one recipe for both."""
    return dict(what=what, builder="cvbook.transfer.resnet",
                builder_kwargs=dict(input_shape=[28, 28, 1], num_classes=len(classes or range(10)),
                                    widths=[32, 64, 128], blocks=1),
                knobs=dict(classes=classes, epochs=10, batch_size=128, learning_rate=3e-3,
                           warmup_epochs=1, weight_decay=5e-4, flip=True, shift=0.08))


SPECS = {
    "scorer": dict(
        what="reference scorer: the CNN whose features every Fréchet distance and KID use",
        builder="cvbook.metrics.scorer_cnn", builder_kwargs=dict(image_size=28, num_classes=10),
        knobs=dict(epochs=5, batch_size=128, learning_rate=1e-3, validation_split=0.0)),
    "second_scorer": dict(
        what="second scorer: a CNN of another architecture (batch norm, global average "
             "pooling), trained separately, to check the reference scorer's rankings",
        builder="cvbook.metrics.second_scorer_cnn",
        builder_kwargs=dict(image_size=28, num_classes=10),
        knobs=dict(epochs=5, batch_size=128, learning_rate=1e-3, validation_split=0.0)),
    "cnn": dict(
        what="chapter 2's CNN (small_cnn, width 64, dropout 0.4)",
        builder="cvbook.models.small_cnn",
        builder_kwargs=dict(input_shape=[28, 28, 1], num_classes=10, width=64, dropout=0.4),
        knobs=dict(epochs=12, batch_size=128, learning_rate=1e-3, validation_split=0.15)),
    "dcgan": dict(
        what="chapter 4's DCGAN generator",
        builder="cvbook.gan.dcgan_generator", builder_kwargs=dict(latent_dim=64, image_size=28),
        knobs=dict(epochs=10, batch_size=128, g_learning_rate=2e-4, d_learning_rate=2e-4,
                   beta_1=0.5)),
    "cgan": dict(
        what="chapter 6's class-conditional DCGAN generator (label embedding; trained against a "
             "spectrally normalised critic with the hinge loss)",
        builder="cvbook.gan.conditional_generator",
        builder_kwargs=dict(latent_dim=64, num_classes=10, image_size=28, width=32),
        knobs=dict(epochs=10, batch_size=128, learning_rate=5e-4, beta_1=0.5, critic_width=32)),
    "diffusion": dict(
        what="chapter 5's class-conditional U-Net, EMA weights (DDPM, DDIM and "
             "classifier-free guidance), trained to predict v with Min-SNR-5 weights",
        builder="cvbook.diffusion.unet",
        builder_kwargs=dict(image_size=28, channels=1, widths=[32, 64], num_classes=10),
        schedule=dict(kind="cosine", T=250, prediction="v"),
        knobs=dict(epochs=10, batch_size=128, learning_rate=4e-3, warmup_steps=300,
                   final_lr_fraction=0.02, weight_decay=1e-4, ema=0.999, ema_warmup=True,
                   min_snr=5.0, label_dropout=0.2, guidances=[1.0, 2.0, 3.0, 4.0],
                   min_agreement=0.9)),
    "autoencoder": dict(
        what="the text-to-image chapter's autoencoder: 28x28 images <-> 8x8x4 latents, "
             "calibrated to mean 0 and standard deviation 1",
        builder="cvbook.text2image.autoencoder",
        builder_kwargs=dict(latent_channels=4, width=64),
        knobs=dict(epochs=4, batch_size=128, learning_rate=2e-3)),
    "text2image": dict(
        what="the text-to-image chapter's latent U-Net with cross-attention to the caption "
             "(its own text encoder), EMA weights, trained on captions without the held-out "
             "combinations",
        builder="cvbook.text2image.latent_unet",
        builder_kwargs=dict(widths=[64, 128], heads=4, text_dim=64, text_depth=2),
        schedule=dict(kind="cosine", T=250, prediction="v"),
        latent="autoencoder",
        knobs=dict(epochs=8, batch_size=128, learning_rate=2e-3, warmup_steps=300,
                   final_lr_fraction=0.02, weight_decay=1e-4, ema=0.999, ema_warmup=True,
                   min_snr=5.0, caption_dropout=0.1, caption_seed=0, guidance=2.0,
                   samples_per_combination=50)),
    "resnet": _resnet_spec("the transfer chapter's residual CNN, trained on all ten classes "
                           "(how good the architecture is)", classes=None),
    "backbone": _resnet_spec("the transfer chapter's pretrained backbone: the same residual CNN "
                             "trained on the five source classes only (T-shirt/top, trouser, "
                             "pullover, dress, coat)", classes=[0, 1, 2, 3, 4]),
    "detector": dict(
        what="the detection chapter's CenterNet detector, started from the pretrained backbone",
        builder="cvbook.detection.network",
        builder_kwargs=dict(image_size=64, num_classes=10, width=64, backbone_widths=[32, 64, 128]),
        knobs=dict(n_train=12000, n_test=2000, epochs=10, batch_size=64, learning_rate=1e-3,
                   augment="flip", train_seed=0, test_seed=1)),
}


def data():
    from cvbook import data

    return data.load("fashion_mnist")


def _classifier(name, spec, ds):
    import keras

    from cvbook import models

    k = spec["knobs"]
    n_fit = int(round(len(ds.x_train) * (1 - k["validation_split"])))
    steps = k["epochs"] * int(np.ceil(n_fit / k["batch_size"]))
    net = _builder(spec)()
    models.compile_classifier(net, keras.optimizers.schedules.CosineDecay(
        k["learning_rate"], decay_steps=steps))
    net.fit(ds.x_train, ds.y_train, epochs=k["epochs"], batch_size=k["batch_size"],
            validation_split=k["validation_split"], verbose=0, callbacks=[models.epoch_log()])
    acc = float(np.mean(net.predict(ds.x_test, verbose=0).argmax(1) == ds.y_test))
    return net, {"test_accuracy": acc}, f"{k['epochs']} epochs, batch {k['batch_size']}"


def _resnet(name, spec, ds):
    """The transfer chapter's residual CNN: AdamW with a warm-up and cosine decay, random
    flips and shifts, on all classes or on the source classes only."""
    import keras

    from cvbook import models, transfer

    k = spec["knobs"]
    x, y, x_test, y_test = ds.x_train, ds.y_train, ds.x_test, ds.y_test
    if k["classes"]:
        x, y = transfer.pick_classes(x, y, k["classes"])
        x_test, y_test = transfer.pick_classes(x_test, y_test, k["classes"])
    net = _builder(spec)()
    per_epoch = int(np.ceil(len(x) / k["batch_size"]))
    warmup = k["warmup_epochs"] * per_epoch
    schedule = keras.optimizers.schedules.CosineDecay(
        k["learning_rate"] / 10, decay_steps=k["epochs"] * per_epoch - warmup,
        warmup_target=k["learning_rate"], warmup_steps=warmup)
    trainer = keras.Sequential([keras.Input(x.shape[1:])]
                               + ([keras.layers.RandomFlip("horizontal")] if k["flip"] else [])
                               + [keras.layers.RandomTranslation(k["shift"], k["shift"]), net])
    trainer.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=k["weight_decay"]),
                    loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    trainer.fit(x, y, epochs=k["epochs"], batch_size=k["batch_size"], verbose=0,
                callbacks=[models.epoch_log()])
    acc = transfer.accuracy(net, x_test, y_test)
    return net, {"test_accuracy": acc}, (f"{k['epochs']} epochs, batch {k['batch_size']}, "
                                         f"random flips and shifts")


def _builder(spec):
    from cvbook import checkpoints

    return lambda: checkpoints.build(spec)


def _dcgan(name, spec, ds):
    import keras

    from cvbook import gan, metrics, models

    k = spec["knobs"]
    model = gan.GAN(_builder(spec)(), gan.dcgan_discriminator(ds.image_shape), 64)
    model.compile(d_optimizer=keras.optimizers.Adam(k["d_learning_rate"], beta_1=k["beta_1"]),
                  g_optimizer=keras.optimizers.Adam(k["g_learning_rate"], beta_1=k["beta_1"]))
    model.fit(ds.x_train, epochs=k["epochs"], batch_size=k["batch_size"], verbose=0,
              callbacks=[models.epoch_log()])
    score = metrics.reference_scorer().score(dcgan_samples(model.generator, 1000))
    return model.generator, {f"{m}_1000": v for m, v in score.as_dict().items()}, \
        f"{k['epochs']} epochs, batch {k['batch_size']}"


def dcgan_samples(generator, n, seed=0):
    noise = np.random.default_rng(seed).normal(size=(n, 64)).astype("float32")
    return generator.predict(noise, verbose=0)


def _cgan(name, spec, ds):
    import keras

    from cvbook import gan, metrics, models

    k = spec["knobs"]
    model = gan.ConditionalGAN(_builder(spec)(), gan.conditional_discriminator(
        10, 28, width=k["critic_width"]), 64, 10)
    model.compile(d_optimizer=keras.optimizers.Adam(k["learning_rate"], beta_1=k["beta_1"]),
                  g_optimizer=keras.optimizers.Adam(k["learning_rate"], beta_1=k["beta_1"]))
    model.fit(ds.x_train, ds.y_train, epochs=k["epochs"], batch_size=k["batch_size"], verbose=0,
              callbacks=[models.epoch_log()])
    scorer = metrics.reference_scorer()
    labels = np.arange(1000) % 10
    images = gan.conditional_samples(model.generator, labels)
    scores = {f"{m}_1000": v for m, v in scorer.score(images).as_dict().items()}
    scores["agreement_1000"] = scorer.accuracy(images, labels)
    return model.generator, scores, f"{k['epochs']} epochs, batch {k['batch_size']}"


def diffusion_model(spec, k, prediction, steps):
    """The diffusion checkpoint's model, compiled with its recipe for ``steps`` training steps
    (:func:`cvbook.diffusion.optimizer`: AdamW, warm-up, cosine decay). The recipe ablation
    varies ``k`` and ``prediction``."""
    from cvbook import diffusion

    sched = spec["schedule"]
    model = diffusion.Diffusion(_builder(spec)(),
                                getattr(diffusion, f"{sched['kind']}_schedule")(sched["T"]),
                                ema=k["ema"], num_classes=10, label_dropout=k["label_dropout"],
                                prediction=prediction, min_snr=k["min_snr"],
                                ema_warmup=k["ema_warmup"])
    model.compile(optimizer=diffusion.optimizer(
        k["learning_rate"], steps, k["warmup_steps"], k["final_lr_fraction"],
        k["weight_decay"]))
    return model


def _diffusion(name, spec, ds):
    """AdamW with a warm-up and cosine decay; scored unconditionally (2000 DDIM-50 samples,
    both scorers, as the DCGAN) and guided, with the guidance weight chosen on validation
    samples: the smallest of ``guidances`` whose samples the reference scorer assigns to the
    requested class at least ``min_agreement`` of the time (seed 1), then measured afresh on
    1000 test samples (seed 2)."""
    from cvbook import metrics, models

    k, sched = spec["knobs"], spec["schedule"]
    model = diffusion_model(spec, k, sched["prediction"],
                            k["epochs"] * int(np.ceil(len(ds.x_train) / k["batch_size"])))
    model.fit(ds.x_train, ds.y_train, epochs=k["epochs"], batch_size=k["batch_size"], verbose=0,
              callbacks=[models.epoch_log()])
    scorers = {"": metrics.reference_scorer(), "second_": metrics.second_scorer()}
    unconditional = model.sample(2000, steps=50, method="ddim", seed=0)
    scores = {}
    for prefix, scorer in scorers.items():
        result = scorer.score(unconditional)
        scores[f"{prefix}frechet_ddim50_2000"] = result.frechet
        scores[f"{prefix}kid_ddim50_2000"] = result.kid
    print(f"   unconditional: {scores}", flush=True)
    ref = scorers[""]
    val_labels, test_labels = np.arange(500) % 10, np.arange(1000) % 10
    for w in k["guidances"]:
        val = model.sample(500, steps=50, method="ddim", labels=val_labels, guidance=w, seed=1)
        scores[f"val_agreement_w{w:g}_500"] = ref.accuracy(val, val_labels)
        print(f"   validation w={w:g}: agreement {scores[f'val_agreement_w{w:g}_500']:.3f}",
              flush=True)
        if scores[f"val_agreement_w{w:g}_500"] >= k["min_agreement"]:
            break
    scores["guidance"] = w
    guided = model.sample(1000, steps=50, method="ddim", labels=test_labels, guidance=w, seed=2)
    scores["agreement_guided_1000"] = ref.accuracy(guided, test_labels)
    for prefix, scorer in scorers.items():
        result = scorer.score(guided)
        scores[f"{prefix}frechet_guided_1000"] = result.frechet
        scores[f"{prefix}kid_guided_1000"] = result.kid
    return model.ema_network, scores, (
        f"{k['epochs']} epochs, batch {k['batch_size']}, T={sched['T']}, v-prediction, "
        f"Min-SNR-{k['min_snr']:g}, AdamW {k['learning_rate']:g} with warm-up and cosine decay")


def _autoencoder(name, spec, ds):
    """Reconstruction (mean squared error, Adam), then the calibration of the latents."""
    import keras

    from cvbook import models

    k = spec["knobs"]
    model = _builder(spec)()
    model.compile(keras.optimizers.Adam(k["learning_rate"]), "mse")
    model.fit(ds.x_train, ds.x_train, epochs=k["epochs"], batch_size=k["batch_size"], verbose=0,
              callbacks=[models.epoch_log()])
    model.calibrate(ds.x_train)
    mse = float(np.mean((model.decode(model.encode(ds.x_test)) - ds.x_test) ** 2))
    return model, {"test_mse": mse}, f"{k['epochs']} epochs, batch {k['batch_size']}"


def text2image_data(ds, thresholds, seed):
    """The training set of the text-to-image model: the captioned training images without
    the held-out combinations, as (images, labels, captions, token ids)."""
    from cvbook import captions, text2image

    attrs = captions.attributes(ds.x_train, ds.y_train, thresholds)
    keep = ~captions.held_out(ds.y_train, attrs)
    texts = captions.caption(ds.y_train[keep], attrs[keep], seed=seed)
    return ds.x_train[keep], ds.y_train[keep], texts, text2image.tokenize(texts)


def prompt_following(model, thresholds, guidance, n, seed=0):
    """Class and attribute agreement on the 20 test combinations (``n`` samples each,
    DDIM-50), held in and held out; with the reference scorer."""
    from cvbook import captions, metrics, text2image

    combos = text2image.test_combinations()
    prompts = [text2image.prompt(*c) for c in combos for _ in range(n)]
    held = np.repeat([c in captions.HELD_OUT for c in combos], n)
    images = model.sample(prompts, steps=50, guidance=guidance, seed=seed)
    hits = text2image.follows(images, prompts, thresholds, metrics.reference_scorer())
    return {f"{part}_{what}": float(np.mean(v[mask]))
            for part, mask in (("held_in", ~held), ("held_out", held))
            for what, v in hits.items() if what != "texture"}


def _text2image(name, spec, ds):
    """The latent U-Net on the autoencoder checkpoint's latents, the chapter 5 recipe, with
    caption dropout; scored on prompts held in and held out, and without a caption."""
    from cvbook import captions, checkpoints, diffusion, metrics, models, text2image

    k, sched = spec["knobs"], spec["schedule"]
    ae = checkpoints.load(spec["latent"])
    thresholds = captions.fit(ds.x_train, ds.y_train)
    x, _, _, ids = text2image_data(ds, thresholds, k["caption_seed"])
    model = text2image.TextDiffusion(
        _builder(spec)(), getattr(diffusion, f"{sched['kind']}_schedule")(sched["T"]), ae,
        caption_dropout=k["caption_dropout"], ema=k["ema"], prediction=sched["prediction"],
        min_snr=k["min_snr"], ema_warmup=k["ema_warmup"])
    steps = k["epochs"] * int(np.ceil(len(x) / k["batch_size"]))
    model.compile(optimizer=diffusion.optimizer(k["learning_rate"], steps, k["warmup_steps"],
                                                k["final_lr_fraction"], k["weight_decay"]))
    model.fit(ae.encode(x), ids, epochs=k["epochs"], batch_size=k["batch_size"], verbose=0,
              callbacks=[models.epoch_log()])
    scores = prompt_following(model, thresholds, k["guidance"], k["samples_per_combination"])
    result = metrics.reference_scorer().score(model.sample([""] * 1000, seed=1))
    scores.update(frechet_empty_1000=result.frechet, kid_empty_1000=result.kid)
    return model.ema_network, scores, (
        f"{k['epochs']} epochs over {len(x):,} captioned images, batch {k['batch_size']}, "
        f"T={sched['T']}, v-prediction, Min-SNR-{k['min_snr']:g}, caption dropout "
        f"{k['caption_dropout']:g}")


def _detector(name, spec, ds):
    """The detection chapter's full profile: scenes from the training garments, the detector
    started from the ``backbone`` checkpoint, flips with their boxes; COCO mAP on test scenes."""
    from cvbook import checkpoints, data, detection

    k = spec["knobs"]
    train = data.scenes(k["n_train"], "train", seed=k["train_seed"])
    test = data.scenes(k["n_test"], "test", seed=k["test_seed"])
    net = _builder(spec)()
    net.get_layer("features").set_weights(
        checkpoints.load("backbone").get_layer("backbone").get_weights())
    detector = detection.Detector(net)
    detection.train(detector, train, k["epochs"], k["batch_size"], k["learning_rate"],
                    augment=k["augment"])
    m = detection.coco_map(test.boxes, test.labels, *detector.detect(test.images), 10)
    return net, {"map50": m["map50"], "map": m["map"]}, (
        f"{k['epochs']} epochs over {k['n_train']:,} scenes, batch {k['batch_size']}, "
        f"random flips with their boxes")


TRAIN = {"scorer": _classifier, "second_scorer": _classifier, "cnn": _classifier, "dcgan": _dcgan, "cgan": _cgan,
         "diffusion": _diffusion, "autoencoder": _autoencoder, "text2image": _text2image,
         "resnet": _resnet, "backbone": _resnet, "detector": _detector}


def fingerprint(name: str, model) -> dict:
    """A small fixed-sample measurement of a loaded checkpoint, recomputed by the tests."""
    from cvbook import data, metrics

    if name in ("scorer", "second_scorer", "cnn", "resnet"):
        ds = data.load("fashion_mnist", n_train=1, n_test=2000, seed=0)
        acc = float(np.mean(model.predict(ds.x_test, verbose=0).argmax(1) == ds.y_test))
        return {"test_accuracy_2000": acc}
    if name == "backbone":  # the source task: the first 2000 test images of its five classes
        from cvbook import transfer

        ds = data.load("fashion_mnist", n_train=1, seed=0)
        x, y = transfer.pick_classes(ds.x_test, ds.y_test, SPECS[name]["knobs"]["classes"])
        return {"source_accuracy_2000": transfer.accuracy(model, x[:2000], y[:2000])}
    if name == "detector":  # mAP@0.5 on 200 fixed test scenes
        from cvbook import detection

        test = data.scenes(200, "test", seed=1)
        boxes = detection.Detector(model).detect(test.images)
        return {"map50_200": detection.coco_map(test.boxes, test.labels, *boxes, 10)["map50"]}
    if name == "autoencoder":  # reconstruction error on 2000 test images
        ds = data.load("fashion_mnist", n_train=1, n_test=2000, seed=0)
        return {"test_mse_2000": float(np.mean((model.decode(model.encode(ds.x_test))
                                                - ds.x_test) ** 2))}
    scorer = metrics.reference_scorer()
    if name == "text2image":  # class agreement of 100 guided samples, ten prompts
        from cvbook import captions

        labels = np.arange(100) % 10
        prompts = [f"a {captions.CLASS_WORDS[c]}" for c in labels]
        images = model.sample(prompts, steps=10, guidance=2.0, seed=0)
        return {"agreement_ddim10_100": scorer.accuracy(images, labels)}
    if name == "dcgan":
        return {"frechet_200": scorer.score(dcgan_samples(model, 200)).frechet}
    if name == "cgan":
        labels = np.arange(200) % 10
        from cvbook import gan

        images = gan.conditional_samples(model, labels)
        return {"frechet_200": scorer.score(images).frechet,
                "agreement_200": scorer.accuracy(images, labels)}
    images = model.sample(100, steps=10, method="ddim", seed=0)
    return {"frechet_ddim10_100": scorer.score(images).frechet}


def build(names) -> None:
    import keras

    import cvbook
    from machine import device
    from cvbook import checkpoints

    os.makedirs(checkpoints.WEIGHTS_DIR, exist_ok=True)
    entries = checkpoints.manifest() if os.path.exists(checkpoints.MANIFEST) else {}
    ds = data()
    for name in names:
        spec = SPECS[name]
        print(f"== {name}: {spec['what']}", flush=True)
        cvbook.set_seed(0)
        start = time.perf_counter()
        model, scores, training = TRAIN[name](name, spec, ds)
        seconds = time.perf_counter() - start
        file = f"{name}.weights.h5"
        clean = _builder(spec)()  # weights only: a compiled model would also save Adam's state
        clean.set_weights(model.get_weights())
        clean.save_weights(os.path.join(checkpoints.WEIGHTS_DIR, file))
        entries[name] = dict(
            what=spec["what"], file=file, builder=spec["builder"],
            builder_kwargs=spec["builder_kwargs"],
            **{key: spec[key] for key in ("schedule", "latent") if key in spec},
            command=COMMAND, dataset=_dataset_text(spec, ds),
            profile="full", knobs=spec["knobs"], training=training,
            wall_seconds=round(seconds, 1), hardware=device(), date=str(datetime.date.today()),
            keras=keras.__version__, scores={k: round(float(v), 4) for k, v in scores.items()},
            sha256=checkpoints.sha256(os.path.join(checkpoints.WEIGHTS_DIR, file)))
        _write(entries)
        if name == "scorer":  # every later score uses the scorer just trained
            from cvbook import metrics

            metrics.reference_scorer.cache_clear()
        entries[name]["fingerprint"] = {k: round(v, 4) for k, v in
                                        fingerprint(name, checkpoints.load(name)).items()}
        _write(entries)
        print(f"   {seconds:.0f} s | scores {entries[name]['scores']} | fingerprint "
              f"{entries[name]['fingerprint']}", flush=True)


def _dataset_text(spec, ds) -> str:
    if "n_train" in spec["knobs"]:
        return (f"{spec['knobs']['n_train']:,} detection scenes (cvbook.data.scenes) of "
                f"Fashion-MNIST training garments")
    if "caption_seed" in spec["knobs"]:
        from cvbook import captions

        thresholds = captions.fit(ds.x_train, ds.y_train)
        held = captions.held_out(ds.y_train, captions.attributes(ds.x_train, ds.y_train,
                                                                  thresholds))
        return (f"Fashion-MNIST, the {int((~held).sum()):,} training images outside the "
                f"held-out combinations, captioned by cvbook.captions")
    classes = spec["knobs"].get("classes")
    if classes:
        return (f"Fashion-MNIST, the {int(np.isin(ds.y_train, classes).sum()):,} training "
                f"images of classes {classes}")
    held_out = spec["knobs"].get("validation_split", 0.0)
    if not held_out:
        return f"Fashion-MNIST, all {len(ds.x_train):,} training images"
    used = int(round(len(ds.x_train) * (1 - held_out)))
    return (f"Fashion-MNIST, {used:,} of the {len(ds.x_train):,} training images "
            f"({held_out:.0%} held out for validation)")


def _write(entries) -> None:
    from cvbook import checkpoints

    ordered = {n: entries[n] for n in ORDER if n in entries}
    with open(checkpoints.MANIFEST, "w") as f:
        json.dump({"rebuild": COMMAND, "fingerprint_rtol": FINGERPRINT_RTOL,
                   "checkpoints": ordered}, f, indent=1, ensure_ascii=False)
        f.write("\n")


def verify() -> int:
    from cvbook import checkpoints

    bad = 0
    for name in checkpoints.names():
        want = checkpoints.record(name)["fingerprint"]
        got = fingerprint(name, checkpoints.load(name))
        ok = all(abs(got[k] - v) <= FINGERPRINT_RTOL * abs(v) for k, v in want.items())
        bad += not ok
        print(f"{'ok ' if ok else 'BAD'} {name}: {got} (recorded {want})")
    return 1 if bad else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["build", "verify"])
    parser.add_argument("names", nargs="*",
                        help=f"checkpoints to rebuild (default: all, in the order {ORDER})")
    args = parser.parse_args(argv)
    unknown = set(args.names) - set(ORDER)
    if unknown:
        parser.error(f"unknown checkpoint(s) {sorted(unknown)}: choose from {ORDER}")
    if args.command == "verify":
        return verify()
    build([n for n in ORDER if n in (args.names or ORDER)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
