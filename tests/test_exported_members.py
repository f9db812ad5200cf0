"""The public API, both ways: every name in `pagefix.__all__` exists and is documented, every class
or function that `pagefix/__init__.py` binds publicly is in `__all__`, every error class is
exported, and every package says that its modules are internal."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pagefix
from pagefix import errors

INIT = Path(pagefix.__file__)


def _error_classes() -> list[type]:
    return [obj for _, obj in inspect.getmembers(errors, inspect.isclass)
            if issubclass(obj, BaseException) and obj.__module__ == errors.__name__]


def _has_own_docstring(obj: object) -> bool:
    doc = inspect.getdoc(obj) or ""
    # A dataclass without a docstring gets its signature as one: `Limits(max_pixels: int = ...)`.
    return bool(doc.strip()) and not doc.startswith(f"{getattr(obj, '__name__', '')}(")


def test_all_is_sorted_and_every_name_exists():
    assert pagefix.__all__ == sorted(pagefix.__all__)
    assert len(set(pagefix.__all__)) == len(pagefix.__all__)
    for name in pagefix.__all__:
        assert hasattr(pagefix, name), name


def test_every_exported_name_is_documented():
    assert isinstance(pagefix.__version__, str) and pagefix.__version__
    undocumented = [name for name in pagefix.__all__ if name != "__version__"
                    and not _has_own_docstring(getattr(pagefix, name))]
    assert not undocumented, f"exported without a docstring: {undocumented}"


def test_every_public_class_or_function_bound_in_init_is_exported():
    tree = ast.parse(INIT.read_text(encoding="utf-8"))
    bound = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            bound.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.Assign):
            bound.update(target.id for target in node.targets if isinstance(target, ast.Name))
    missing = []
    for name in sorted(bound):
        if name.startswith("_"):
            continue
        obj = getattr(pagefix, name)
        ours = (inspect.isclass(obj) or inspect.isfunction(obj)) and obj.__module__.startswith("pagefix")
        if ours and name not in pagefix.__all__:
            missing.append(name)
    assert not missing, f"bound in pagefix/__init__.py but not in __all__: {missing}"


def test_every_error_class_is_in_the_tree_and_exported():
    classes = _error_classes()
    assert {cls.__name__ for cls in classes} >= {"PagefixError", "OutputError", "OcrError", "LimitExceededError"}
    for cls in classes:
        assert issubclass(cls, errors.PagefixError), cls
        assert cls.__name__ in errors.__all__, cls
        assert cls.__name__ in pagefix.__all__, f"{cls.__name__} is not exported from pagefix"
        assert getattr(pagefix, cls.__name__) is cls
        assert f" {cls.__name__} " in (errors.__doc__ or ""), f"{cls.__name__} is missing from the documented tree"


def test_errors_all_names_only_what_the_module_defines():
    for name in errors.__all__:
        assert hasattr(errors, name), name


def test_every_package_says_its_modules_are_internal():
    silent = []
    for info in pkgutil.walk_packages(pagefix.__path__, "pagefix."):
        if not info.ispkg:
            continue
        doc = importlib.import_module(info.name).__doc__ or ""
        if "Internal" not in doc or "pagefix.__all__" not in doc:
            silent.append(info.name)
    assert not silent, f"packages whose docstring does not say their modules are internal: {silent}"
