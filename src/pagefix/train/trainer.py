"""Fine-tune the orientation classifier: PyTorch network initialised from the ONNX weights,
augmented training, validation each epoch, resumable checkpoints, export to pagefix's layout.

Validation scores the model the way it will be used: each epoch's weights are exported to ONNX and
the val split is scored by the models layer's classifier with the view set chosen for use
(`views`), as `pagefix eval orientation` scores it; the starting model is scored the same way
first, so the gain or loss is plain.

Determinism: every epoch draws its shuffling, augmentation and dropout from generators seeded
with (seed, epoch), so a run resumed after epoch k continues exactly as the uninterrupted run
would (same threads, same machine). A finished run continues with a larger `epochs`: the added
epochs follow the learning-rate schedule of a run planned for that many (the rate rises again
from where the shorter schedule ended), so the result is not the one a longer run from the
start would give.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError, InputError
from ..evaluation.datasets import ANGLES, open_orientation_source
from ..evaluation.orientation import ClassifierScorer, evaluate_orientation
from ..limits import Limits
from ..models import ModelStore, OrientationClassifier, RuntimeOptions
from ..models.orientation_views import resolve_view_set
from ..models.store import REFERENCE_ORIENTATION_MODEL, ModelFiles
from .augment import Augmentation
from .dataset import load_split
from .distill import KeepPages, all_turns, distillation_loss, load_keep_pages
from .export import export_model
from .network import PPLCNet
from .onnx_weights import load_onnx_weights

__all__ = ["TrainConfig", "TrainResult", "train_orientation"]

logger = logging.getLogger(__name__)

CHECKPOINT = "checkpoints/last.pt"
# Where each epoch's weights are exported to be validated as the pipeline will run them.
CANDIDATE = "checkpoints/candidate"
# Pages per classifier call when validating: `pagefix eval orientation`'s default batch size.
_VAL_BATCH = 8
# Gradients are clipped to this norm: a few bad steps on a small set must not wreck the weights.
_MAX_GRAD_NORM = 5.0
# The shares of centre, letterbox and long-side crops (`Augmentation.view_mix`) for each choice of
# views the model will be used with.
TRAIN_VIEWS = {"default": (0.5, 0.2, 0.3), "reference": (1.0, 0.0, 0.0)}
# Settings that must match for a checkpoint to be resumed ("epochs" may grow: see the docstring).
_RESUME_KEYS = ("data", "epochs", "batch_size", "lr", "weight_decay", "train_layers", "seed",
                "label_smoothing", "base_model", "base_model_dir", "warmup_epochs", "cached_views",
                "keep", "distill_weight", "distill_temperature", "keep_val_fraction", "views", "degrade")


@dataclass
class TrainConfig:
    data: str
    out: str
    epochs: int = 10
    batch_size: int = 32
    lr: float = 0.01
    weight_decay: float = 3e-5
    label_smoothing: float = 0.1
    warmup_epochs: float = 0.5
    train_layers: str = "all"  # "all", "top" (last two blocks and head) or "head"
    # With "top" or "head": augment every page this many times once, keep the frozen layers'
    # output, and train on those (each epoch draws one of a page's views). 0: augment every step.
    cached_views: int = 0
    # Folders of pages whose answers must not change: the loss adds distill_weight times the KL
    # divergence from the base model's probabilities on them (all four turns), and the best epoch
    # is chosen on validation accuracy and on agreement with the base model on held-out keep pages.
    keep: Sequence[str] = ()
    distill_weight: float = 1.0
    distill_temperature: float = 2.0
    keep_val_fraction: float = 0.2
    # The views training crops imitate: "default" (pagefix's voting views: centre crops, the page
    # letterboxed, crops at short side 512) or "reference" (centre crops only).
    views: str = "default"
    # Share of training and keep pages given the damage of old print (`degrade.degrade_page`).
    degrade: float = 0.0
    seed: int = 0
    threads: int | None = None
    base_model: str | None = None
    base_model_dir: str | None = None
    name: str | None = None
    restart: bool = False


@dataclass
class TrainResult:
    model_dir: Path
    best_epoch: int
    #: Top-1 on the val split of the exported model, with the views chosen for use: what
    #: `pagefix eval orientation DATA --doc_orientation_classify_model_dir MODEL_DIR
    #: --orientation_views VIEWS` reports. None without a val split.
    val_accuracy: float | None
    history: list[dict[str, float]] = field(default_factory=list)
    #: The same figure for the starting model (the shipped one, or --base-model-dir).
    base_val_accuracy: float | None = None
    views: str = "default"


class _Hooks:
    """Progress callbacks from a front end; the library draws nothing itself."""

    def __init__(self, bar: Callable[..., Any] | None = None) -> None:
        self.bar = bar

    def progress(self, total: int, desc: str) -> Any:
        if self.bar is None:
            return _NoBar()
        return self.bar(total=total, desc=desc)


class _NoBar:
    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, n: int = 1) -> None:
        return None

    def set_postfix(self, **kwargs: Any) -> None:
        return None


def train_orientation(config: TrainConfig, bar: Callable[..., Any] | None = None) -> TrainResult:
    """Fine-tune and export to `config.out` (model.onnx + pagefix.yml); returns where and how well.

    >>> train_orientation(TrainConfig(data="dataset/", out="my-model/", epochs=5))  # doctest: +SKIP
    """
    hooks = _Hooks(bar)
    if config.epochs < 1 or config.batch_size < 1:
        raise ConfigError("epochs and batch size must be at least 1")
    if config.keep and not (config.distill_weight > 0 and config.distill_temperature > 0):
        raise ConfigError("with keep pages, the distillation weight and temperature must be above 0")
    if not 0.0 <= config.keep_val_fraction < 1.0:
        raise ConfigError("the keep validation fraction must be in [0, 1)")
    data, out = Path(config.data).expanduser(), Path(config.out).expanduser()
    threads = config.threads or min(os.cpu_count() or 1, 8)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=True)

    # Without a base named, training starts from the reference model, whatever the default is.
    base_name = config.base_model or (None if config.base_model_dir else REFERENCE_ORIENTATION_MODEL)
    base = ModelStore().resolve("orientation", base_name, config.base_model_dir)
    classifier = OrientationClassifier.from_files(base, RuntimeOptions(device="cpu", cpu_threads=threads))
    if tuple(classifier.labels) != ANGLES:
        raise ConfigError(f"the base model's labels {classifier.labels} are not {ANGLES}")
    if config.views not in TRAIN_VIEWS:
        raise ConfigError(f"views must be one of {', '.join(TRAIN_VIEWS)}")
    augmentation = Augmentation(resize_short=classifier.resize_short, crop_size=classifier.crop_size, labels=ANGLES,
                                view_mix=TRAIN_VIEWS[config.views], degrade=config.degrade)

    limits = Limits()
    count = len((data / "train.txt").read_text(encoding="utf-8").splitlines()) if (data / "train.txt").is_file() else 0
    with hooks.progress(count, "loading train") as progress:
        train_images, train_angles = load_split(data, "train", limits, progress=progress.update)
    if not train_images:
        raise InputError(f"{data / 'train.txt'} lists no images")
    val_batch = None
    validation = _ModelValidation(data, config.views, limits, threads, hooks)
    if validation.size:
        # A few val pages check that the export runs as the network does.
        with hooks.progress(0, "loading val") as progress:
            val_arrays, _ = load_split(data, "val", limits, prepare=classifier.preprocess, progress=progress.update)
        val_batch = torch.from_numpy(np.stack(val_arrays[:8]))
    base_accuracy = validation.score(classifier, "starting model") if validation.size else None
    if base_accuracy is not None:
        logger.info("starting model %s: val accuracy %.4f (views %s)", base.name, base_accuracy, config.views)

    keep = None
    if config.keep:
        with hooks.progress(0, "loading keep pages") as progress:
            keep = load_keep_pages(config.keep, limits, config.keep_val_fraction, config.seed, progress.update)

    torch.manual_seed(config.seed)
    net = load_onnx_weights(PPLCNet(num_classes=len(ANGLES)), base.path)
    # The teacher for the keep pages: the base model exactly as loaded, before any step.
    teacher = copy.deepcopy(net).eval() if keep is not None else None
    try:
        trainable = net.parameters_to_train(config.train_layers)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    chosen = {id(p) for p in trainable}
    for parameter in net.parameters():
        parameter.requires_grad_(id(parameter) in chosen)
    cache = None
    if config.cached_views:
        if config.train_layers == "all":
            raise ConfigError("cached views need --train_layers top or head (the frozen layers are cached)")
        cache = _cache_trunk(net, train_images, train_angles, augmentation, classifier.preprocess, config, hooks)
        train_images.clear()  # the cache replaces the decoded pages
    keep_train = keep_val = None
    if keep is not None and teacher is not None:  # the teacher exists exactly when keep pages do
        keep_train = _KeepTrain(keep, net, teacher, augmentation, classifier.preprocess, config, hooks)
        keep_val = _KeepVal(keep, net, teacher, classifier.preprocess, config)
    optimizer = torch.optim.SGD(trainable, lr=config.lr, momentum=0.9, weight_decay=config.weight_decay)
    steps_per_epoch = math.ceil(len(train_angles) / config.batch_size)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, _cosine_with_warmup(steps_per_epoch * config.epochs, int(steps_per_epoch * config.warmup_epochs))
    )
    loss_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)

    settings = _settings(config)
    start_epoch = 0
    best: dict[str, Any] = {"epoch": -1, "accuracy": -1.0, "state": None}
    history: list[dict[str, float]] = []
    checkpoint_path = out / CHECKPOINT
    if checkpoint_path.exists() and not config.restart:
        state = torch.load(checkpoint_path, map_location="cpu", weights_only=True)
        saved = state["settings"]
        changed = sorted(k for k in settings if k != "epochs" and saved.get(k) != settings[k])
        if changed:
            raise ConfigError(
                f"{checkpoint_path} was made with other settings ({', '.join(changed)}); "
                "pass --restart to start over or use another --out"
            )
        done = state["epoch"] + 1
        if config.epochs < done:
            raise ConfigError(
                f"{checkpoint_path} has {done} epoch(s) trained already; to continue training, run the same "
                f"command with --epochs above {done} (e.g. --epochs {done + 1}); --restart starts over"
            )
        net.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        # The schedule is the one of this run's --epochs: a finished run given more continues on it.
        scheduler.load_state_dict(state["scheduler"])
        start_epoch, history = done, state["history"]
        best = {"epoch": state["best_epoch"], "accuracy": state["best_accuracy"], "state": state["best_model"]}
        if saved.get("epochs") != config.epochs:
            logger.info("continuing a run of %s epoch(s) to %d (%s)", saved.get("epochs"), config.epochs, checkpoint_path)
        else:
            logger.info("resuming from epoch %d of %d (%s)", start_epoch + 1, config.epochs, checkpoint_path)

    for epoch in range(start_epoch, config.epochs):
        rng = np.random.default_rng([config.seed, epoch])
        torch.manual_seed(config.seed * 100_003 + epoch)
        _train_mode(net)
        order = rng.permutation(len(train_angles))
        total_loss, seen, right, total_distill = 0.0, 0, 0, 0.0
        with hooks.progress(steps_per_epoch, f"epoch {epoch + 1}/{config.epochs}") as progress:
            for start in range(0, len(order), config.batch_size):
                picked = order[start:start + config.batch_size]
                if cache is not None:
                    views = torch.from_numpy(rng.integers(config.cached_views, size=len(picked)))
                    rows = torch.from_numpy(picked)
                    target = cache[1][views, rows]
                    logits = net.forward_from_trunk(cache[0][views, rows].float(), config.train_layers)
                else:
                    inputs, targets = [], []
                    for index in picked:
                        image, angle = augmentation(train_images[index], train_angles[index], rng)
                        inputs.append(classifier.preprocess(image))
                        targets.append(ANGLES.index(angle))
                    batch, target = torch.from_numpy(np.stack(inputs)), torch.tensor(targets)
                    logits = net(batch)
                loss = loss_fn(logits, target)
                if keep_train is not None:
                    student, teacher_logits = keep_train.batch(net, len(picked), rng)
                    distill = distillation_loss(student, teacher_logits, config.distill_temperature)
                    total_distill += float(distill.detach()) * len(picked)
                    loss = loss + config.distill_weight * distill
                if not torch.isfinite(loss):
                    raise ConfigError(f"training diverged in epoch {epoch + 1} (loss {float(loss)}); lower --lr")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(trainable, _MAX_GRAD_NORM)
                optimizer.step()
                scheduler.step()
                total_loss += float(loss.detach()) * len(picked)
                seen += len(picked)
                right += int((logits.argmax(1) == target).sum())
                progress.update(1)
                progress.set_postfix(loss=f"{total_loss / seen:.4f}")
        record = {"epoch": epoch + 1, "loss": total_loss / seen, "train_accuracy": right / seen}
        if keep_train is not None:
            record["distill_loss"] = total_distill / seen
        if validation.size:
            net.eval()
            candidate = export_model(net, base, out / CANDIDATE, name="candidate", metadata={})
            record["val_accuracy"] = validation.score(_load(candidate, threads), f"epoch {epoch + 1}")
        if keep_val is not None and keep_val.size:
            record["keep_agreement"] = keep_val.agreement(net)
        history.append(record)
        logger.info("epoch %d: %s", epoch + 1, ", ".join(f"{k}={v:.4f}" for k, v in record.items() if k != "epoch"))
        # Best on the mean of validation accuracy and agreement with the base model on held-out
        # keep pages (what it learns and what it must not forget); with neither, the last epoch.
        judged = [record[k] for k in ("val_accuracy", "keep_agreement") if k in record]
        score = sum(judged) / len(judged) if judged else 0.0
        if not judged or score > best["accuracy"]:
            best = {"epoch": epoch, "accuracy": score, "state": copy.deepcopy(net.state_dict())}
        _save_checkpoint(checkpoint_path, {
            "settings": settings, "epoch": epoch, "history": history, "model": net.state_dict(),
            "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
            "best_epoch": best["epoch"], "best_accuracy": best["accuracy"], "best_model": best["state"],
        })

    if best["state"] is not None:
        net.load_state_dict(best["state"])
    net.eval()
    check = val_batch[:8] if val_batch is not None else None
    best_record = history[best["epoch"]] if 0 <= best["epoch"] < len(history) else {}
    val_accuracy = best_record.get("val_accuracy") if validation.size else None
    metadata = {
        "fine_tuned_from": base.name, "base_sha256": (base.config.get("files") or {}).get("model.onnx"),
        "dataset": str(data.resolve()), "epochs": config.epochs, "best_epoch": best["epoch"] + 1,
        "val_accuracy": val_accuracy, "base_val_accuracy": base_accuracy, "seed": config.seed, "train_layers": config.train_layers,
        "lr": config.lr, "batch_size": config.batch_size, "cached_views": config.cached_views, "views": config.views,
    }
    if keep is not None:
        metadata.update({
            "keep": _settings(config)["keep"], "keep_pages": len(keep.names), "distill_weight": config.distill_weight,
            "distill_temperature": config.distill_temperature, "keep_agreement": best_record.get("keep_agreement"),
        })
    model_dir = export_model(net, base, out, name=config.name or out.name, metadata=metadata, check_batch=check)
    return TrainResult(model_dir, best["epoch"] + 1, val_accuracy, history, base_accuracy, config.views)


class _ModelValidation:
    """The val split scored as `pagefix eval orientation` scores it: the models layer's classifier
    (ONNX Runtime) on the pages as decoded, with the view set chosen for use. The pages are read
    again for each score, so a large split never sits in memory."""

    def __init__(self, data: Path, views: str, limits: Limits, threads: int, hooks: _Hooks) -> None:
        self.view_set = resolve_view_set(views)
        self.hooks = hooks
        self.source = open_orientation_source(data, ["val"], limits) if (data / "val.txt").is_file() else None
        self.size = len(self.source) if self.source is not None else 0

    def score(self, classifier: OrientationClassifier, desc: str) -> float:
        assert self.source is not None
        with self.hooks.progress(self.size, f"validating {desc}") as progress:
            report = evaluate_orientation(self.source, ClassifierScorer(classifier, self.view_set),
                                          batch_size=_VAL_BATCH, labels=classifier.labels, progress=progress.update)
        if report.failures:
            name, error = report.failures[0]
            raise InputError(f"val page {name} cannot be read: {error}")
        return report.accuracy


def _load(model_dir: Path, threads: int) -> OrientationClassifier:
    files: ModelFiles = ModelStore().resolve("orientation", model_dir=model_dir)
    return OrientationClassifier.from_files(files, RuntimeOptions(device="cpu", cpu_threads=threads))


@torch.no_grad()
def _cache_trunk(
    net: PPLCNet, images: list[np.ndarray], angles: list[int], augmentation: Augmentation,
    preprocess: Callable[[np.ndarray], np.ndarray], config: TrainConfig, hooks: _Hooks,
    stream: int = 1_000_003, desc: str = "caching frozen layers",
) -> tuple[torch.Tensor, torch.Tensor]:
    """`cached_views` augmented views of every page through the frozen layers, once: the frozen
    layers are most of the network's cost, so the epochs after this are several times cheaper.
    Returns (outputs [views, pages, C, H, W] in float16, class indices [views, pages])."""
    net.eval()
    outputs, targets = [], []
    total = config.cached_views * math.ceil(len(images) / config.batch_size)
    with hooks.progress(total, desc) as progress:
        for view in range(config.cached_views):
            rng = np.random.default_rng([config.seed, stream, view])  # apart from the epochs' streams
            view_outputs, view_targets = [], []
            for start in range(0, len(images), config.batch_size):
                batch = []
                for index in range(start, min(start + config.batch_size, len(images))):
                    image, angle = augmentation(images[index], angles[index], rng)
                    batch.append(preprocess(image))
                    view_targets.append(ANGLES.index(angle))
                view_outputs.append(net.trunk(torch.from_numpy(np.stack(batch)), config.train_layers).half())
                progress.update(1)
            outputs.append(torch.cat(view_outputs))
            targets.append(torch.tensor(view_targets))
    return torch.stack(outputs), torch.stack(targets)


class _KeepTrain:
    """The keep pages' training views (each page at all four turns) and the teacher's logits on
    them. With cached views they are cached like the training pages; otherwise every step draws
    fresh augmentations and runs the teacher on them."""

    def __init__(self, keep: KeepPages, net: PPLCNet, teacher: PPLCNet, augmentation: Augmentation,
                 preprocess: Callable[[np.ndarray], np.ndarray], config: TrainConfig, hooks: _Hooks) -> None:
        if not keep.train:
            raise InputError("every keep page was held out for validation; give more pages or a lower keep_val_fraction")
        self.config, self.teacher, self.preprocess = config, teacher, preprocess
        # The turn is part of the page here (all four are used), so the augmentation adds none.
        self.augmentation = dataclasses.replace(augmentation, turn_labels=False)
        self.items = all_turns(keep.train)
        self.cache: tuple[torch.Tensor, torch.Tensor] | None = None
        if config.cached_views:
            trunk, _ = _cache_trunk(net, [image for image, _ in self.items], [angle for _, angle in self.items],
                                    self.augmentation, preprocess, config, hooks, stream=2_000_003,
                                    desc="caching keep pages")
            with torch.no_grad():
                logits = torch.stack([
                    torch.cat([teacher.forward_from_trunk(view[i:i + config.batch_size].float(), config.train_layers)
                               for i in range(0, view.shape[0], config.batch_size)])
                    for view in trunk
                ])
            self.cache = (trunk, logits)

    def batch(self, net: PPLCNet, size: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(student logits, teacher logits) for `size` keep views drawn at random."""
        rows = rng.integers(len(self.items), size=size)
        if self.cache is not None:
            views = torch.from_numpy(rng.integers(self.config.cached_views, size=size))
            rows_t = torch.from_numpy(rows)
            student = net.forward_from_trunk(self.cache[0][views, rows_t].float(), self.config.train_layers)
            return student, self.cache[1][views, rows_t]
        batch = torch.from_numpy(np.stack([
            self.preprocess(self.augmentation(self.items[row][0], self.items[row][1], rng)[0]) for row in rows
        ]))
        with torch.no_grad():
            teacher_logits = self.teacher(batch)
        return net(batch), teacher_logits


class _KeepVal:
    """Held-out keep pages at the four turns, as inference sees them, and the teacher's answers."""

    def __init__(self, keep: KeepPages, net: PPLCNet, teacher: PPLCNet,
                 preprocess: Callable[[np.ndarray], np.ndarray], config: TrainConfig) -> None:
        self.size = 4 * len(keep.val)
        self.chunk, self.layers = config.batch_size, config.train_layers if config.cached_views else None
        if not self.size:
            return
        batch = torch.from_numpy(np.stack([preprocess(image) for image, _ in all_turns(keep.val)]))
        with torch.no_grad():
            net.eval()
            if self.layers is not None:
                batch = torch.cat([net.trunk(batch[i:i + self.chunk], self.layers) for i in range(0, len(batch), self.chunk)])
            self.inputs = batch
            self.teacher_answers = self._logits(teacher, batch).argmax(1)

    def _logits(self, model: PPLCNet, batch: torch.Tensor) -> torch.Tensor:
        model.eval()
        layers = self.layers
        forward = (lambda x: model.forward_from_trunk(x, layers)) if layers is not None else model
        return torch.cat([forward(batch[i:i + self.chunk]) for i in range(0, len(batch), self.chunk)])

    @torch.no_grad()
    def agreement(self, net: PPLCNet) -> float:
        """Share of held-out keep views where `net` gives the teacher's answer."""
        return float((self._logits(net, self.inputs).argmax(1) == self.teacher_answers).float().mean())


def _settings(config: TrainConfig) -> dict[str, Any]:
    values = asdict(config)
    values["data"] = str(Path(config.data).expanduser().resolve())
    values["keep"] = [str(Path(folder).expanduser().resolve()) for folder in config.keep]
    return {key: values[key] for key in _RESUME_KEYS}


def _train_mode(net: PPLCNet) -> None:
    """Dropout on, BatchNorm statistics kept: fine-tuning batches on a CPU are small and their
    statistics noisy; the shipped running means and variances come from a far larger set."""
    net.train()
    for module in net.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.eval()


def _cosine_with_warmup(total: int, warmup: int) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return factor


def _save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(path.name + ".part")
    torch.save(state, temp)
    os.replace(temp, path)  # a crash mid-save leaves the previous checkpoint intact
