"""Which inputs a run must process, from the manifest so far and one listing of the output tree.

An input is done when it has rows, none with an error, its page count is known and matches its
rows, and every output its rows name exists (and its PDF, when PDFs are asked for). Failed inputs
are run again unless `retry_errors` is False; unfinished or unknown ones always are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .listing import InputFile
from .tree import PAGES_DIR, PDF_DIR, OutputTree

__all__ = ["Plan", "plan_run"]


@dataclass
class Plan:
    todo: list[InputFile] = field(default_factory=list)
    done: int = 0            # inputs skipped: complete in the manifest, outputs present
    failed_skipped: int = 0  # inputs skipped: failed before, and retrying was switched off
    retried: int = 0         # inputs in `todo` that failed before


def plan_run(files: list[InputFile], manifest: Any, tree: OutputTree, retry_errors: bool = True,
             with_pdf: bool = False) -> Plan:
    state = _input_states(manifest)
    existing = tree.list(PAGES_DIR) if state else set()
    pdfs = tree.list(PDF_DIR) if state and with_pdf else set()
    plan = Plan()
    for item in files:
        rows = state.get(item.uri)
        if rows is None:
            plan.todo.append(item)
            continue
        failed = any(error is not None for _, error, _ in rows)
        if failed:
            if retry_errors:
                plan.todo.append(item)
                plan.retried += 1
            else:
                plan.failed_skipped += 1
            continue
        if _complete(rows, existing) and (not with_pdf or tree.pdf_name(item.rel) in pdfs):
            plan.done += 1
        else:
            plan.todo.append(item)
    return plan


def _input_states(manifest: Any) -> dict[str, list[tuple[int | None, str | None, str | None]]]:
    """input_path -> [(n_pages, error, output_path)] for each of its rows."""
    if manifest is None or manifest.num_rows == 0:
        return {}
    columns = manifest.select(["input_path", "n_pages", "error", "output_path"]).to_pydict()
    state: dict[str, list[tuple[int | None, str | None, str | None]]] = {}
    for path, n_pages, error, output in zip(columns["input_path"], columns["n_pages"], columns["error"],
                                            columns["output_path"]):
        state.setdefault(path, []).append((n_pages, error, output))
    return state


def _complete(rows: list[tuple[int | None, str | None, str | None]], existing: set[str]) -> bool:
    n_pages = rows[0][0]
    if n_pages is None or n_pages != len(rows):
        return False
    return all(output is not None and output in existing for _, _, output in rows)
