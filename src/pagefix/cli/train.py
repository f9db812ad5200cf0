"""`pagefix train`: fine-tune the orientation classifier, make a dataset from upright pages, or
render synthetic pages of a script. PyTorch is imported only by the training itself."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

__all__ = ["register"]

logger = logging.getLogger("pagefix")

TORCH_HINT = 'pagefix train needs PyTorch: pip install "pagefix[train]"'
# The layouts of `synthetic.LAYOUTS`, spelled here so building the parser imports no Pillow.
LAYOUTS_HELP = ("text", "receipt", "table", "columns")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "train", help="fine-tune the orientation classifier",
        description="Fine-tune the orientation classifier on your pages and export it in pagefix's model layout.",
    )
    tasks = parser.add_subparsers(dest="train_task", metavar="TASK", required=True)

    orientation = tasks.add_parser(
        "orientation", help="fine-tune an orientation model, PP-LCNet_x1_0_doc_ori unless told otherwise "
        "(or write a dataset with --make_dataset)",
        description="Fine-tune on a dataset in the reference format (label.txt, train.txt, val.txt) and "
        "write MODEL_DIR (model.onnx + pagefix.yml), usable as doc_orientation_classify_model_dir. "
        "Each epoch is validated as `pagefix eval orientation` scores the exported model (the val "
        "split, with --views), beside the starting model's score. Rerunning with the same --out "
        "resumes after the last finished epoch; a finished run continues with a larger --epochs. With --make_dataset "
        "UPRIGHT_DIR, write a dataset to --out instead: every page at the four angles, split by page.",
    )
    source = orientation.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", metavar="DIR", help="dataset in the reference classification format")
    source.add_argument("--make_dataset", metavar="UPRIGHT_DIR", help="folder of upright pages to make a dataset from")
    source.add_argument("--recipe", metavar="NAME",
                        help="train a named recipe (pagefix_doc_ori_v5: the default model shipped in the package; "
                        "pagefix_doc_ori_v1: the first, opt-in; pagefix_doc_ori_v2: v1 with real keep pages given with "
                        "--keep; pagefix_doc_ori_v3 and _v4: v2 with more generated keep pages; _v5: v4 at half the "
                        "learning rate): render its pages from their seeds into --work, make "
                        "the dataset and train with the recipe's settings (an option typed here wins over the "
                        "recipe's, e.g. a larger --epochs to continue a finished run); --keep folders are added "
                        "to its keep pages")
    orientation.add_argument("--work", metavar="DIR",
                             help="with --recipe: folder for the rendered pages and dataset (default: OUT_work "
                             "beside --out); reused when already complete")
    orientation.add_argument("--out", required=True, metavar="DIR", help="model directory (or dataset folder with --make_dataset)")
    orientation.add_argument("--epochs", type=int, default=argparse.SUPPRESS, help="training epochs (default: 10)")
    orientation.add_argument("--batch_size", type=int, default=argparse.SUPPRESS, help="images per step (default: 32)")
    orientation.add_argument("--lr", type=float, default=argparse.SUPPRESS, help="peak learning rate, SGD with momentum (default: 0.01)")
    orientation.add_argument("--weight_decay", type=float, default=argparse.SUPPRESS, help="L2 weight decay (default: 3e-5)")
    orientation.add_argument("--train_layers", choices=("all", "top", "head"), default=argparse.SUPPRESS,
                             help="what to train: every layer (default), the top (last two blocks, "
                             "last conv, head: faster, the early features stay the shipped ones) or the head only")
    orientation.add_argument("--cached_views", type=int, default=argparse.SUPPRESS, metavar="N",
                             help="with --train_layers top or head: augment every page N times once and "
                             "cache the frozen layers' output, so epochs cost a fraction (default: 0, "
                             "augment every step)")
    orientation.add_argument("--keep", action="append", metavar="DIR", default=[],
                             help="folder of pages whose answers must not change (repeatable; no labels "
                             "needed): every step also pulls the model's probabilities on them, at all four "
                             "turns, towards the base model's, and the best epoch must keep agreeing with the "
                             "base model on the held-out share of them")
    orientation.add_argument("--distill_weight", type=float, default=argparse.SUPPRESS,
                             help="weight of the keep pages' distillation term against the training loss (default: 1.0)")
    orientation.add_argument("--distill_temperature", type=float, default=argparse.SUPPRESS,
                             help="softmax temperature of the distillation term: above 1 passes on the base "
                             "model's doubts, not only its answer (default: 2.0)")
    orientation.add_argument("--keep_val_fraction", type=float, default=argparse.SUPPRESS,
                             help="share of the keep pages held out to measure forgetting (default: 0.2)")
    orientation.add_argument("--views", choices=("default", "reference"), default=argparse.SUPPRESS,
                             help="the orientation_views the model will be used with: training crops "
                             "imitate them and validation scores with them (default: default, the voting "
                             "views; reference: centre crops only)")
    orientation.add_argument("--seed", type=int, default=argparse.SUPPRESS, help="seed for shuffling, augmentation and splits (default: 0)")
    orientation.add_argument("--threads", type=int, metavar="N", help="CPU threads for PyTorch (default: the cores, at most 8)")
    orientation.add_argument("--base_model_dir", metavar="DIR", help="start from this orientation model instead of the reference's "
                             "PP-LCNet_x1_0_doc_ori")
    orientation.add_argument("--name", help="model name written to pagefix.yml (default: the --out folder's name)")
    orientation.add_argument("--restart", action="store_true", help="ignore a checkpoint in --out and start over")
    orientation.add_argument("--val_fraction", type=float, default=0.2,
                             help="with --make_dataset: share of pages for validation (default: 0.2)")
    orientation.set_defaults(func=run_orientation)

    render = tasks.add_parser(
        "render-pages", help="render synthetic upright text pages of a script (for --make_dataset)",
        description="Write COUNT clean upright pages (PNG) of generated text, or of words from --text, "
        "set from the right for right-to-left scripts, in the layouts given with --layout.",
    )
    render.add_argument("--out", required=True, metavar="DIR", help="folder for the pages")
    render.add_argument("--script", default="latin", help="hebrew, hebrew_niqqud, arabic, persian, latin, german, cyrillic, greek, chinese, "
                        "japanese, korean, devanagari, bengali, tamil or thai (default: latin)")
    render.add_argument("--font", action="append", metavar="FILE", help="TrueType/OpenType font with the script (repeatable)")
    render.add_argument("--text", metavar="FILE", help="UTF-8 text whose words fill the pages instead of generated ones")
    render.add_argument("--rtl", action="store_true", default=None, help="set lines right to left (default: from --script)")
    render.add_argument("--layout", action="append", choices=LAYOUTS_HELP, metavar="LAYOUT",
                        help=f"page layout, one of {', '.join(LAYOUTS_HELP)}; repeat to draw one at random per "
                        "page (default: text)")
    render.add_argument("--align", choices=("ragged", "justify", "centre"),
                        help="how running text is set (default: ragged, justified or centred at random per page)")
    render.add_argument("--degrade", action="store_true",
                        help="give every page the damage of old print: bleed-through, stains, uneven ink, "
                        "low contrast, noise and blur, binarisation (drawn from --seed)")
    render.add_argument("--count", type=int, default=100, help="pages to write (default: 100)")
    render.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    render.set_defaults(func=run_render)

    evaluation = tasks.add_parser(
        "eval-pages", help="render a recipe's evaluation pages (for pagefix eval orientation)",
        description="Write the evaluation pages of a training recipe, one sub-folder per group (script or "
        "kind of damage), drawn from other seeds and, where a second font family exists, other fonts "
        "than its training pages.",
    )
    evaluation.add_argument("--recipe", default="pagefix_doc_ori_v1", help="recipe name (default: pagefix_doc_ori_v1)")
    evaluation.add_argument("--out", required=True, metavar="DIR", help="folder for the pages")
    evaluation.set_defaults(func=run_eval_pages)


def _bar(args: argparse.Namespace) -> Any:
    from functools import partial

    from tqdm import tqdm

    return partial(tqdm, leave=False, disable=not sys.stderr.isatty() or args.quiet)


def run_orientation(args: argparse.Namespace) -> int:
    if args.make_dataset:
        from ..train.dataset import make_dataset

        with _bar(args)(desc="pages", unit="page") as bar:
            # --seed has no argparse default (see _TRAIN_SETTINGS): untyped, make_dataset's own applies.
            seed = {"seed": args.seed} if hasattr(args, "seed") else {}
            summary = make_dataset(args.make_dataset, args.out, args.val_fraction, progress=bar.update, **seed)
        print(f"wrote {summary.root}: train {summary.train_pages} pages ({summary.train_images} images), "
              f"val {summary.val_pages} pages ({summary.val_images} images)")
        return 0
    try:
        import torch  # noqa: F401
    except ImportError:
        logger.error(TORCH_HINT)
        return 2
    from ..train.trainer import TrainConfig, train_orientation

    if args.recipe:
        config = _recipe_config(args)
    else:
        config = TrainConfig(
            data=args.data, out=args.out, threads=args.threads, base_model_dir=args.base_model_dir, name=args.name,
            restart=args.restart, keep=tuple(args.keep), **_given_settings(args),
        )
    result = train_orientation(config, bar=_bar(args))
    if result.base_val_accuracy is not None:
        # Scored as `pagefix eval orientation` scores a model: the val split, with --views.
        print(f"starting model: val accuracy {result.base_val_accuracy:.4f} (views {result.views})")
    for record in result.history:
        print("epoch {epoch}: loss {loss:.4f}, train accuracy {train_accuracy:.4f}".format(**record)
              + (f", val accuracy {record['val_accuracy']:.4f}" if "val_accuracy" in record else "")
              + (f", distillation loss {record['distill_loss']:.4f}" if "distill_loss" in record else "")
              + (f", keep agreement {record['keep_agreement']:.4f}" if "keep_agreement" in record else ""))
    if result.val_accuracy is None:
        accuracy = "n/a (no val split)"
    else:
        accuracy = f"{result.val_accuracy:.4f}"
        if result.base_val_accuracy is not None:
            change = result.val_accuracy - result.base_val_accuracy
            accuracy += f", starting model {result.base_val_accuracy:.4f}: {change:+.4f}"
    print(f"exported epoch {result.best_epoch} (val accuracy {accuracy}; views {result.views}) to {result.model_dir}")
    print(f"continue with more epochs: the same command with a larger --epochs (this run: {config.epochs})")
    return 0


# The training settings of `pagefix train orientation`. Their options have no argparse default, so
# `args` holds only those typed: the others come from TrainConfig's defaults, or from a recipe.
_TRAIN_SETTINGS = ("epochs", "batch_size", "lr", "weight_decay", "train_layers", "cached_views", "distill_weight",
                   "distill_temperature", "keep_val_fraction", "views", "seed")


def _given_settings(args: argparse.Namespace) -> dict[str, Any]:
    return {name: getattr(args, name) for name in _TRAIN_SETTINGS if hasattr(args, name)}


def _recipe_config(args: argparse.Namespace) -> Any:
    from pathlib import Path

    from ..train.recipes import prepare_recipe_data, recipe
    from ..train.trainer import TrainConfig

    chosen = recipe(args.recipe)
    out = Path(args.out)
    work = Path(args.work) if args.work else out.with_name(out.name + "_work")
    total = sum(s.count for s in chosen.train + chosen.keep)
    with _bar(args)(total=total, desc="rendering pages", unit="page") as bar:
        dataset, keep = prepare_recipe_data(chosen.name, work, progress=bar.update)
    # What the user typed wins over the recipe, so a finished recipe run continues with --epochs.
    settings: dict[str, Any] = {**chosen.settings, **_given_settings(args)}
    return TrainConfig(data=str(dataset), out=str(out), keep=(str(keep), *args.keep), name=chosen.name,
                       threads=args.threads, restart=args.restart, **settings)


def run_eval_pages(args: argparse.Namespace) -> int:
    from ..train.recipes import recipe, render_evaluation_pages

    chosen = recipe(args.recipe)
    with _bar(args)(total=sum(s.count for s in chosen.evaluation), desc="pages", unit="page") as bar:
        root = render_evaluation_pages(chosen.name, args.out, progress=bar.update)
    print(f"wrote {sum(s.count for s in chosen.evaluation)} pages in {len(chosen.evaluation)} groups to {root}")
    return 0


def run_render(args: argparse.Namespace) -> int:
    from pathlib import Path

    import cv2
    import numpy as np

    from ..errors import ConfigError
    from ..train.degrade import degrade_page
    from ..train.synthetic import SCRIPTS, render_page, word_source

    if args.script not in SCRIPTS:
        raise ConfigError(f"unknown script {args.script!r}; known: {', '.join(sorted(SCRIPTS))}")
    lines = None
    if args.text:
        try:
            lines = Path(args.text).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ConfigError(f"cannot read {args.text}: {exc.strerror or exc}") from exc
    fonts = args.font or [None]
    spec = SCRIPTS[args.script]
    if spec.shaped and not _can_shape():
        raise ConfigError(f"--script {args.script} needs Pillow with libraqm for text shaping; this Pillow has none")
    rtl = spec.rtl if args.rtl is None else args.rtl
    layouts = args.layout or ["text"]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    try:
        next_word = word_source(args.script, rng, lines)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    with _bar(args)(total=args.count, desc="pages", unit="page") as bar:
        for index in range(args.count):
            layout = layouts[int(rng.integers(len(layouts)))] if len(layouts) > 1 else layouts[0]
            page = render_page(next_word, fonts, rtl, rng, layout=layout, align=args.align, shaped=spec.shaped)
            if args.degrade:
                page = degrade_page(page, rng)
            cv2.imwrite(str(out / f"{args.script}_{index:05d}.png"), page)
            bar.update(1)
    print(f"wrote {args.count} pages to {out}")
    return 0


def _can_shape() -> bool:
    from PIL import features

    return bool(features.check("raqm"))
