"""Split folders of real pages in two by document, the same way every time: one half to train on
(keep pages for `pagefix train orientation --keep`), the other half to evaluate on, never trained on.

    python bench/split_pages.py data/orientation/upright data/unwarp/docunet_crop --out real_split
    # real_split/keep/<folder>/ and real_split/heldout/<folder>/: links to the pages

Each half is a folder of links per input folder, named as the pages are, so the groups that
bench/orientation_models.py reads from file-name prefixes stay as they were. The split is
stratified: within each group (the prefix before '__', else the whole folder) the documents are
ordered by a seeded SHA-256 of their name and the first half (rounded down) is kept for training.
A document is a page, except where several photos show one document (DocUNet's `45_1.jpg` and
`45_2.jpg`): those go to the same side. Nothing is picked by hand and nothing depends on how a
model does on a page. Nothing here is imported by pagefix.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
from pathlib import Path

from pagefix.inputs import list_directory

# DocUNet names its photos <document>_<photo>.jpg (two photos of each paper page).
_PHOTO_OF = re.compile(r"^(\d+)_\d+$")


def document_of(name: str) -> tuple[str, str]:
    """(group, document) of a file name."""
    stem = Path(name).stem
    if "__" in stem:
        return stem.split("__", 1)[0], stem
    match = _PHOTO_OF.match(stem)
    return "", match.group(1) if match else stem


def split(files: list[Path], seed: int) -> tuple[list[Path], list[Path]]:
    """(keep, heldout) of one folder's pages."""
    groups: dict[str, dict[str, list[Path]]] = {}
    for path in files:
        group, document = document_of(path.name)
        groups.setdefault(group, {}).setdefault(document, []).append(path)
    keep: list[Path] = []
    heldout: list[Path] = []
    for documents in groups.values():
        order = sorted(documents, key=lambda d: hashlib.sha256(f"{seed}:{d}".encode()).hexdigest())
        for index, document in enumerate(order):
            (keep if index < len(order) // 2 else heldout).extend(documents[document])
    return sorted(keep), sorted(heldout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", help="folders of real pages")
    parser.add_argument("--out", required=True, help="folder for keep/ and heldout/")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    out = Path(args.out)
    for folder in map(Path, args.folders):
        files = [Path(p) for p in list_directory(folder)]
        for half, pages in zip(("keep", "heldout"), split(files, args.seed)):
            target = out / half / folder.name
            target.mkdir(parents=True, exist_ok=True)
            for page in pages:
                link = target / page.name
                if link.is_symlink() or link.exists():
                    link.unlink()
                os.symlink(page.resolve(), link)
            print(f"{target}: {len(pages)} pages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
