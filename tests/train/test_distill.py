"""`--keep`: the distillation term holds the model to the base model's answers on pages it must not
forget, while the training labels pull elsewhere; keep pages go through the input layer (EXIF)."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest
from PIL import Image

from pagefix.cli.main import main
from pagefix.errors import ConfigError, InputError
from pagefix.evaluation.datasets import ANGLES, turn_content
from pagefix.limits import Limits
from pagefix.train.synthetic import render_page, word_source

from .conftest import SMALL_PAGES

CPU = ["--threads", "2"]


@pytest.fixture(scope="module")
def keep_pages(tmp_path_factory):
    """Four generated receipts and tables: other pages than the training set's, that the base
    model must keep reading as it does."""
    folder = tmp_path_factory.mktemp("keep")
    rng = np.random.default_rng(11)
    next_word = word_source("latin", rng)
    for index, layout in enumerate(("receipt", "table", "receipt", "table")):
        cv2.imwrite(str(folder / f"{layout}{index}.png"), render_page(next_word, [None], False, rng, SMALL_PAGES, layout))
    return folder


@pytest.fixture(scope="module")
def flipped_dataset(small_dataset, tmp_path_factory):
    """The small dataset with every label turned by 180 degrees: the base model is wrong on all
    of it, as it is on Hebrew, so fine-tuning has to move it a long way."""
    target = tmp_path_factory.mktemp("flipped") / "ds"
    shutil.copytree(small_dataset, target)
    (target / "label.txt").write_text("".join(f"{i} {(a + 180) % 360}\n" for i, a in enumerate(ANGLES)), encoding="utf-8")
    return target


def _probabilities(model_dir, folder):
    """The exported (or, with None, the shipped) model's probabilities on every page at four turns."""
    from pagefix.models import ModelStore, OrientationClassifier, RuntimeOptions

    classifier = OrientationClassifier.from_files(ModelStore().resolve("orientation", model_dir=model_dir),
                                                  RuntimeOptions(device="cpu", cpu_threads=2))
    images = [turn_content(cv2.imread(str(path)), angle) for path in sorted(folder.glob("*.png")) for angle in ANGLES]
    return classifier.probabilities(np.stack([classifier.preprocess(image) for image in images]))


def test_distillation_keeps_the_keep_pages_near_the_base_model(flipped_dataset, keep_pages, tmp_path):
    pytest.importorskip("torch")
    from pagefix.train.trainer import TrainConfig, train_orientation

    def run(out, **extra):
        return train_orientation(TrainConfig(data=str(flipped_dataset), out=str(out), epochs=2, batch_size=8, seed=4,
                                             train_layers="head", cached_views=2, lr=0.5, threads=2, **extra))

    plain = run(tmp_path / "plain")
    kept = run(tmp_path / "kept", keep=(str(keep_pages),), distill_weight=4.0, keep_val_fraction=0.25)
    assert "keep_agreement" in kept.history[-1] and "distill_loss" in kept.history[-1]
    assert "keep_agreement" not in plain.history[-1]

    base = _probabilities(None, keep_pages)

    def divergence(model_dir):
        probs = _probabilities(model_dir, keep_pages)
        return float(np.mean(np.sum(base * (np.log(base + 1e-9) - np.log(probs + 1e-9)), axis=1)))

    # Without the term the flipped labels drag the keep pages along; with it they stay far closer.
    assert divergence(tmp_path / "plain") > 0.5
    assert divergence(tmp_path / "kept") < divergence(tmp_path / "plain") / 3


def test_keep_settings_are_checked(small_dataset, keep_pages, tmp_path, capsys):
    pytest.importorskip("torch")
    base = ["train", "orientation", "--data", str(small_dataset), "--out", str(tmp_path / "m"), "--epochs", "1",
            "--train-layers", "head", *CPU]
    assert main([*base, "--keep", str(keep_pages), "--distill-weight", "0"]) == 2
    assert "distillation weight" in capsys.readouterr().err
    assert main([*base, "--keep", str(tmp_path / "missing")]) == 2
    assert "is not a folder of pages" in capsys.readouterr().err
    # A checkpoint made without keep pages is not resumed with them.
    assert main(base) == 0
    capsys.readouterr()
    assert main([*base, "--keep", str(keep_pages)]) == 2
    assert "other settings (keep)" in capsys.readouterr().err


def test_keep_pages_are_decoded_with_their_exif_orientation(tmp_path):
    from pagefix.train.distill import load_keep_pages

    page = np.full((300, 200, 3), 255, np.uint8)
    page[:40] = 0  # a dark band at the top of the upright page
    stored = cv2.rotate(page, cv2.ROTATE_90_COUNTERCLOCKWISE)  # stored sideways, EXIF says turn it back
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    Image.fromarray(stored[:, :, ::-1]).save(tmp_path / "photo.jpg", exif=exif)
    keep = load_keep_pages([tmp_path], Limits(), val_fraction=0.0, seed=0)
    assert len(keep.train) == 1 and not keep.val
    assert keep.train[0].shape[:2] == (300, 200) and keep.train[0][:30].mean() < 60
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no images"):
        load_keep_pages([tmp_path / "empty"], Limits(), 0.2, 0)


def test_keep_validation_fraction_is_checked(small_dataset, keep_pages, tmp_path):
    pytest.importorskip("torch")
    from pagefix.train.trainer import TrainConfig, train_orientation

    with pytest.raises(ConfigError, match="keep validation fraction"):
        train_orientation(TrainConfig(data=str(small_dataset), out=str(tmp_path / "m"), keep=(str(keep_pages),),
                                      keep_val_fraction=1.0, threads=2))


def test_keep_pages_without_cached_views_run_the_teacher_each_step(small_dataset, keep_pages, tmp_path):
    pytest.importorskip("torch")
    from pagefix.train.trainer import TrainConfig, train_orientation

    result = train_orientation(TrainConfig(data=str(small_dataset), out=str(tmp_path / "m"), epochs=1, batch_size=8,
                                           train_layers="head", lr=0.002, threads=2, keep=(str(keep_pages),)))
    record = result.history[0]
    # A small step from the base model: the keep pages still read as the base model reads them.
    assert record["keep_agreement"] == 1.0 and 0.0 <= record["distill_loss"] < 0.05
    assert (tmp_path / "m" / "model.onnx").is_file()
