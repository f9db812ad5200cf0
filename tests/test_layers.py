"""The layer rule of the tree (docs/development.md): a package imports only from the layers below
it, so the tree reads bottom up and has no import cycles. Imports under `if TYPE_CHECKING:` are
annotations only and do not count."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "pagefix"

#: Lowest first; packages on one line are side by side and may not import each other.
LAYERS = (
    ("errors",),
    ("limits",),
    ("inputs",),
    ("geometry",),
    ("models",),
    ("outputs",),
    ("pipeline",),
    ("serving", "batch", "evaluation"),
    ("train",),
    ("cli",),
)
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def _top_part(path: Path) -> str:
    return path.relative_to(SRC).parts[0].removesuffix(".py")


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_imports(tree: ast.AST, module: str, is_package: bool) -> list[str]:
    """Absolute names of the pagefix modules a file imports at run time."""
    found: list[str] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.ImportFrom):
                if child.level:
                    base = module.split(".") if is_package else module.split(".")[:-1]
                    base = base[: len(base) - (child.level - 1)]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module or ""
                if target == "pagefix":  # `from .. import x`: x may be a module
                    found.extend(f"pagefix.{alias.name}" for alias in child.names)
                elif target.startswith("pagefix."):
                    found.append(target)
            elif isinstance(child, ast.Import):
                found.extend(alias.name for alias in child.names if alias.name.startswith("pagefix."))
            visit(child)

    visit(tree)
    return found


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if p.parent != SRC or p.stem not in ("__init__", "__main__"))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_module_imports_only_from_layers_below(path):
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    module = ".".join(["pagefix", *(parts[:-1] if is_package else parts)])
    own = _top_part(path)
    assert own in RANK, f"{own} has no layer: add it to LAYERS and to docs/development.md"
    wrong = []
    for target in _runtime_imports(ast.parse(path.read_text()), module, is_package):
        other = target.split(".")[1]
        if other == own or other in ("__version__",):
            continue
        if other not in RANK or RANK[other] >= RANK[own]:
            wrong.append(target)
    assert not wrong, f"{module} imports from its own layer or above: {wrong}"
