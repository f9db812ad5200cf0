"""`pagefix train orientation`: dataset writing, a one-epoch fine-tune whose export the pipeline
loads, resuming that matches an uninterrupted run, and the hint when PyTorch is missing."""

from __future__ import annotations

import hashlib
import json
import sys

import cv2
import numpy as np
import pytest

from pagefix.cli.main import main
from pagefix.errors import ConfigError
from pagefix.evaluation.datasets import read_label_names, read_split
from pagefix.train.augment import Augmentation
from pagefix.train.dataset import make_dataset

CPU = ["--threads", "2"]


def test_make_dataset_writes_the_reference_format(small_dataset):
    assert read_label_names(small_dataset) == {0: 0, 1: 90, 2: 180, 3: 270}
    train, val = read_split(small_dataset, "train"), read_split(small_dataset, "val")
    assert len(train) == 16 and len(val) == 8  # 4 + 2 pages, each at four angles
    page_of = lambda path: path.name.rsplit("_", 1)[0]  # noqa: E731
    assert not {page_of(p) for p, _ in train} & {page_of(p) for p, _ in val}
    assert sorted(a for _, a in val) == [0, 0, 90, 90, 180, 180, 270, 270]
    for path, angle in val:
        height, width = cv2.imread(str(path)).shape[:2]
        assert (height > width) == (angle in (0, 180))  # the generated pages are portrait


def test_make_dataset_refuses_a_non_empty_folder(upright_pages, tmp_path):
    (tmp_path / "x.txt").write_text("x")
    with pytest.raises(ConfigError, match="not empty"):
        make_dataset(upright_pages, tmp_path)


def test_augmentation_gives_square_crops_and_turns_labels_with_the_image():
    rng = np.random.default_rng(0)
    page = np.full((700, 500, 3), 255, np.uint8)
    augment = Augmentation()
    labels = set()
    for _ in range(60):
        image, angle = augment(page, 90, rng)
        assert image.shape == (256, 256, 3) and image.dtype == np.uint8
        labels.add(angle)
    assert labels == {0, 90, 180, 270}
    image, angle = Augmentation(turn_labels=False)(page, 90, rng)
    assert angle == 90


def test_augmentation_imitates_the_default_views():
    rng = np.random.default_rng(1)
    page = np.full((700, 500, 3), 90, np.uint8)  # a dark page: white in a crop can only be letterbox paper
    quiet = dict(turn_labels=False, skew_degrees=0.0)
    columns = lambda image: image.mean(axis=(0, 2))  # noqa: E731 - brightness of each column
    for _ in range(5):  # colour, noise and blur are random: the paper stays brighter than the page
        boxed, _ = Augmentation(view_mix=(0, 1, 0), **quiet)(page, 0, rng)
        # The whole page inside the kept 224 centre, letterbox paper on both sides.
        assert min(columns(boxed)[:10].min(), columns(boxed)[-10:].min()) > columns(boxed)[128] + 30
        for mix in ((1, 0, 0), (0, 0, 1)):
            crop, _ = Augmentation(view_mix=mix, **quiet)(page, 0, rng)
            assert crop.shape == (256, 256, 3) and np.ptp(columns(crop)) < 10  # crops stay inside the page
    # At short side 512 the page's stripes are about twice as wide as in the reference's view.
    striped = page.copy()
    for x in range(0, 500, 100):
        striped[:, x:x + 50] = 0
    runs = {}
    for name, mix in (("centre", (1, 0, 0)), ("long", (0, 0, 1))):
        crop, _ = Augmentation(view_mix=mix, scale=(1.0, 1.0), **quiet)(striped, 0, np.random.default_rng(2))
        row = crop[128].astype(int).sum(axis=1)
        dark = row < (row.min() + row.max()) / 2
        edges = np.flatnonzero(np.diff(dark.astype(int)))
        runs[name] = np.median(np.diff(edges))  # pixels between changes: half a stripe period
    assert 1.6 < runs["long"] / runs["centre"] < 2.4


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_one_epoch_fine_tune_is_loaded_by_the_pipeline(small_dataset, upright_pages, tmp_path, capsys):
    pytest.importorskip("torch")
    from pagefix import DocPreprocessor
    from pagefix.models import ModelStore

    out = tmp_path / "model"
    code = main(["train", "orientation", "--data", str(small_dataset), "--out", str(out), "--epochs", "1",
                 "--batch-size", "8", "--lr", "0.002", *CPU])
    assert code == 0
    assert "exported epoch 1" in capsys.readouterr().out
    assert (out / "model.onnx").is_file() and (out / "checkpoints" / "last.pt").is_file()
    assert _digest(out / "model.onnx") != _digest(ModelStore().resolve("orientation").path)

    pipeline = DocPreprocessor(doc_orientation_classify_model_dir=out, use_doc_unwarping=False,
                               device="cpu", cpu_threads=2)
    page = cv2.imread(str(next(upright_pages.glob("*.png"))))
    result = pipeline.predict(cv2.rotate(page, cv2.ROTATE_180))[0]
    assert result["angle"] in (0, 90, 180, 270) and 0.0 < result["angle_score"] <= 1.0

    code = main(["eval", "orientation", str(small_dataset), "--json", "--doc_orientation_classify_model_dir", str(out),
                 "--device", "cpu", "--cpu_threads", "2"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["total"] == 8 and report["accuracy"] >= 0.75  # clean Latin pages stay easy


def test_resuming_continues_exactly_like_one_run(small_dataset, tmp_path):
    pytest.importorskip("torch")
    from pagefix.train.trainer import TrainConfig, train_orientation

    def config(out):
        return TrainConfig(data=str(small_dataset), out=str(out), epochs=2, batch_size=16, seed=3,
                           train_layers="head", lr=0.05, threads=2)

    class Interrupt:  # a progress bar that stops the run when epoch 2 begins, as Ctrl-C would
        def __init__(self, total=0, desc=""):
            if desc.startswith("epoch 2"):
                raise KeyboardInterrupt

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return None

        def update(self, n=1):
            return None

        def set_postfix(self, **kwargs):
            return None

    straight = train_orientation(config(tmp_path / "straight"))
    with pytest.raises(KeyboardInterrupt):
        train_orientation(config(tmp_path / "resumed"), bar=Interrupt)
    assert not (tmp_path / "resumed" / "model.onnx").exists()
    resumed = train_orientation(config(tmp_path / "resumed"))
    assert [h["loss"] for h in resumed.history] == [h["loss"] for h in straight.history]
    assert _digest(tmp_path / "straight" / "model.onnx") == _digest(tmp_path / "resumed" / "model.onnx")


def test_cached_views_train_the_top_and_export(small_dataset, tmp_path):
    pytest.importorskip("torch")
    from pagefix.train.trainer import TrainConfig, train_orientation

    def run(out, **extra):
        return train_orientation(TrainConfig(data=str(small_dataset), out=str(out), epochs=2, batch_size=8, seed=2,
                                             train_layers="top", lr=0.005, threads=2, **extra))

    cached = run(tmp_path / "cached", cached_views=2)
    assert len(cached.history) == 2 and all(np.isfinite(h["loss"]) for h in cached.history)
    assert cached.val_accuracy is not None and (tmp_path / "cached" / "model.onnx").is_file()
    again = run(tmp_path / "again", cached_views=2)  # the cache is drawn from the seed too
    assert [h["loss"] for h in again.history] == [h["loss"] for h in cached.history]
    with pytest.raises(ConfigError, match="top or head"):
        train_orientation(TrainConfig(data=str(small_dataset), out=str(tmp_path / "all"), train_layers="all",
                                      cached_views=2, threads=2))


def test_a_checkpoint_with_other_settings_is_not_resumed(small_dataset, tmp_path, capsys):
    pytest.importorskip("torch")
    args = ["train", "orientation", "--data", str(small_dataset), "--out", str(tmp_path / "m"), "--epochs", "1",
            "--batch-size", "16", "--train-layers", "head", *CPU]
    assert main(args) == 0
    assert main([*args[:-2], "--lr", "0.5", *CPU]) == 2
    error = capsys.readouterr().err
    assert "other settings (lr)" in error and "--restart" in error


def test_missing_torch_names_the_extra(small_dataset, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    code = main(["train", "orientation", "--data", str(small_dataset), "--out", str(tmp_path / "m")])
    assert code == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert error == ['pagefix: ERROR: pagefix train needs PyTorch: pip install "pagefix[train]"']


def test_render_pages_command(tmp_path, capsys):
    assert main(["train", "render-pages", "--out", str(tmp_path), "--count", "2", "--script", "latin", "--seed", "1"]) == 0
    pages = sorted(tmp_path.glob("*.png"))
    assert len(pages) == 2
    image = cv2.imread(str(pages[0]))
    assert image.shape[0] > image.shape[1] and (image < 128).any()


def _figure(text: str, prefix: str) -> float:
    (line,) = [line for line in text.splitlines() if line.startswith(prefix)]
    return float(line[len(prefix):].split()[0].rstrip(",;)"))


def test_the_printed_val_accuracy_is_what_eval_gives_and_the_starting_models_is_beside(small_dataset, tmp_path, capsys):
    pytest.importorskip("torch")
    out = tmp_path / "model"
    assert main(["train", "orientation", "--data", str(small_dataset), "--out", str(out), "--epochs", "1",
                 "--batch-size", "16", "--train-layers", "head", "--lr", "0.05", *CPU]) == 0
    printed = capsys.readouterr().out
    trained = _figure(printed, "exported epoch 1 (val accuracy ")
    start = _figure(printed, "starting model: val accuracy ")
    assert "views default" in printed and f"starting model {start:.4f}: {trained - start:+.4f}" in printed

    def evaluated(*model: str) -> float:
        assert main(["eval", "orientation", str(small_dataset), "--json", "--no-reference", *model,
                     "--device", "cpu", "--cpu_threads", "2"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["views"] == "default" and report["total"] == 8
        return report["correct"] / report["total"]

    assert round(evaluated("--doc_orientation_classify_model_dir", str(out)), 4) == trained
    assert round(evaluated(), 4) == start  # the shipped model, scored the same way


def test_a_finished_run_continues_with_more_epochs(small_dataset, tmp_path, capsys):
    pytest.importorskip("torch")
    from pagefix.train.trainer import TrainConfig, train_orientation

    def run(epochs):
        return train_orientation(TrainConfig(data=str(small_dataset), out=str(tmp_path / "m"), epochs=epochs,
                                             batch_size=16, seed=4, train_layers="head", lr=0.05, threads=2))

    first = run(1)
    longer = run(2)
    assert [h["epoch"] for h in longer.history] == [1, 2]
    assert longer.history[0] == first.history[0]  # epoch 1 is the one already trained, not redone
    assert np.isfinite(longer.history[1]["loss"]) and longer.val_accuracy is not None
    assert longer.base_val_accuracy == first.base_val_accuracy
    # Fewer epochs than trained: refused, with the command that continues.
    args = ["train", "orientation", "--data", str(small_dataset), "--out", str(tmp_path / "m"), "--epochs", "1",
            "--batch-size", "16", "--seed", "4", "--train-layers", "head", "--lr", "0.05", *CPU]
    assert main(args) == 2
    error = capsys.readouterr().err
    assert "2 epoch(s) trained already" in error and "--epochs 3" in error and "--restart" in error
