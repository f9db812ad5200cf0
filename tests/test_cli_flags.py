"""The command line's conventions: snake_case flags with kebab-case spellings accepted, -q/-v after
the subcommand, and the pipeline flags made from the settings table."""

from __future__ import annotations

import argparse
import logging
import re

import pytest

from pagefix.cli.flags import str2bool
from pagefix.cli.main import build_parser, main, parse_args
from pagefix.pipeline.settings import SETTINGS


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(path, parser) of every command that runs something (the leaves of the command tree)."""
    children = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not children:
        yield path, parser
    for action in children:
        for name, sub in action.choices.items():
            yield from _commands(sub, (*path, name))


def _value_for(action: argparse.Action) -> list[str]:
    if action.nargs == 0:
        return []
    if action.choices:
        return [str(next(iter(action.choices)))]
    if action.type is str2bool:
        return ["False"]
    if action.type is int:
        return ["3"]
    if action.type is float:
        return ["0.25"]
    return ["x"]


def _required(parser: argparse.ArgumentParser, flag: argparse.Action) -> list[str]:
    """Arguments that satisfy `parser`'s required ones, so `flag` can be tried on top of them."""
    needed: list[str] = []
    grouped = {a for g in parser._mutually_exclusive_groups for a in g._group_actions}
    for action in parser._actions:
        if action is flag or action in grouped:
            continue
        if not action.option_strings and action.nargs not in ("?", "*"):
            needed += _value_for(action)
        elif action.option_strings and action.required:
            needed += [action.option_strings[0], *_value_for(action)]
    for group in parser._mutually_exclusive_groups:
        if group.required and flag not in group._group_actions:
            first = group._group_actions[0]
            needed += [first.option_strings[0], *_value_for(first)]
    return needed


def _multi_word_flags():
    for path, parser in _commands(build_parser()):
        for action in parser._actions:
            for option in action.option_strings:
                if option.startswith("--") and "_" in option:
                    yield path, option, _value_for(action), _required(parser, action)


def test_every_flag_is_snake_case():
    for path, parser in _commands(build_parser()):
        for action in parser._actions:
            for option in action.option_strings:
                assert "-" not in option.lstrip("-"), (
                    f"pagefix {' '.join(path)} {option}: declare only the snake_case flag; "
                    "CommandParser accepts its kebab-case spelling without showing it")


@pytest.mark.parametrize(("path", "flag", "value", "base"), list(_multi_word_flags()),
                         ids=lambda x: x if isinstance(x, str) else " ".join(x))
def test_the_kebab_spelling_parses_as_the_snake_case_flag(path, flag, value, base):
    kebab = "--" + flag[2:].replace("_", "-")
    snake_args = parse_args([*path, *base, flag, *value])
    assert parse_args([*path, *base, kebab, *value]) == snake_args
    if value:
        assert parse_args([*path, *base, f"{kebab}={value[0]}"]) == snake_args


def test_every_subcommand_has_kebab_spellings_tried():
    tried = {path for path, *_ in _multi_word_flags()}
    assert {("doc_preprocessor",), ("serve",), ("batch",), ("eval", "orientation"), ("eval", "unwarping"),
            ("train", "orientation")} <= tried


def test_kebab_spellings_are_not_in_the_help(capsys):
    with pytest.raises(SystemExit):
        main(["train", "orientation", "--help"])
    text = capsys.readouterr().out
    assert "--make_dataset" in text and "--batch_size" in text
    assert "--make-dataset" not in text and "--batch-size" not in text


def test_values_after_a_double_dash_are_left_alone():
    args = parse_args(["batch", "--save_path", "out", "--", "--keep-margin"])
    assert args.inputs == ["--keep-margin"] and args.keep_margin is None


def test_an_unknown_kebab_flag_is_still_an_error(capsys):
    with pytest.raises(SystemExit) as info:
        parse_args(["doc_preprocessor", "-i", "x.jpg", "--keep-margins", "0.1"])
    assert info.value.code == 2
    assert "--keep-margins" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ["-q", "doc_preprocessor", "-i", "x.jpg"],
    ["doc_preprocessor", "-q", "-i", "x.jpg"],
    ["doc_preprocessor", "-i", "x.jpg", "--quiet"],
    ["batch", "in/", "--save_path", "out/", "-q"],
    ["models", "list", "-q"],
    ["train", "orientation", "--out", "m", "--data", "d", "-q"],
])
def test_quiet_works_before_and_after_the_subcommand(argv):
    args = parse_args(argv)
    assert args.quiet is True and args.verbose is False


def test_every_subcommand_takes_the_global_flags():
    for path, parser in _commands(build_parser()):
        options = {o for a in parser._actions for o in a.option_strings}
        assert {"-q", "--quiet", "-v", "--verbose"} <= options, path


def test_verbose_after_the_subcommand_keeps_quiet_given_before():
    args = parse_args(["-q", "batch", "in/", "--save_path", "out/", "-v"])
    assert (args.quiet, args.verbose) == (True, True)
    args = parse_args(["doc_preprocessor", "-i", "x.jpg"])
    assert (args.quiet, args.verbose) == (False, False)


def test_quiet_after_the_subcommand_reaches_the_logging(tmp_path, capsys):
    status = main(["doc_preprocessor", "-i", str(tmp_path / "missing.png"), "-q",
                   "--use_doc_orientation_classify", "False", "--use_doc_unwarping", "False"])
    assert status == 1
    assert logging.getLogger("pagefix").level == logging.ERROR
    assert "missing.png" in capsys.readouterr().err


# -- the pipeline flags come from the settings table ------------------------------------------------

PIPELINE_COMMANDS = [("doc_preprocessor",), ("serve",), ("batch",), ("eval", "orientation"), ("eval", "unwarping")]


@pytest.mark.parametrize("path", PIPELINE_COMMANDS, ids=" ".join)
def test_every_setting_with_a_flag_has_it(path):
    parser = dict(_commands(build_parser()))[path]
    (group,) = [g for g in parser._action_groups if g.title == "pipeline"]
    by_dest = {a.dest: a for a in group._group_actions}
    assert set(by_dest) == {row.name for row in SETTINGS if row.flag} | {"paddlex_config"}
    for row in SETTINGS:
        if row.flag:
            action = by_dest[row.name]
            assert action.option_strings == [f"--{row.name}"] and action.help == row.help
            assert action.type is (str2bool if row.kind is bool else None if row.kind is str else row.kind)


def test_only_the_yaml_only_settings_have_no_flag():
    assert {row.name for row in SETTINGS if not row.flag} == {"max_warp_score", "max_identity_rms", "fill_color", "deskew_dead_zone"}


def test_the_reference_flags_come_first_then_paddlex_config():
    parser = dict(_commands(build_parser()))[("doc_preprocessor",)]
    (group,) = [g for g in parser._action_groups if g.title == "pipeline"]
    dests = [a.dest for a in group._group_actions]
    reference = [row.name for row in SETTINGS if row.flag and row.reference]
    assert dests[: len(reference) + 1] == [*reference, "paddlex_config"]


def test_a_close_boolean_is_suggested(capsys):
    with pytest.raises(SystemExit):
        parse_args(["doc_preprocessor", "-i", "x.jpg", "--use_doc_unwarping", "Ture"])
    assert "expected True or False, got 'Ture'; did you mean 'true'?" in capsys.readouterr().err


def test_train_settings_typed_win_over_a_recipe_and_the_rest_come_from_train_config():
    from pagefix.cli.train import _TRAIN_SETTINGS, _given_settings
    from pagefix.train.trainer import TrainConfig

    typed = parse_args(["train", "orientation", "--recipe", "pagefix_doc_ori_v3", "--out", "m",
                        "--epochs", "20", "--distill-weight", "6"])
    assert _given_settings(typed) == {"epochs": 20, "distill_weight": 6.0}
    assert _given_settings(parse_args(["train", "orientation", "--data", "d", "--out", "m"])) == {}
    # The help's stated defaults are TrainConfig's, which apply when nothing is typed.
    config = TrainConfig(data="d", out="m")
    assert (config.epochs, config.batch_size, config.lr, config.seed, config.views) == (10, 32, 0.01, 0, "default")
    train = dict(_commands(build_parser()))[("train", "orientation")]
    stated = {}
    for action in train._actions:
        found = re.search(r"\(default: ([^,)]+)", action.help or "")
        if action.dest in _TRAIN_SETTINGS and found:
            stated[action.dest] = found.group(1)
    assert len(stated) == len(_TRAIN_SETTINGS) - 1  # --train_layers says "every layer (default)"
    assert config.train_layers == "all"
    for name, text in stated.items():
        default = getattr(config, name)
        assert (text == default) if isinstance(default, str) else float(text) == default, name
