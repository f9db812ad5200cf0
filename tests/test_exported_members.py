"""The public API: every name in `pagefix.__all__` exists, the list is sorted, and the error tree
is the one the errors module documents."""

from __future__ import annotations

import pagefix
from pagefix import errors


def test_all_is_sorted_and_complete():
    assert pagefix.__all__ == sorted(pagefix.__all__)
    for name in pagefix.__all__:
        assert hasattr(pagefix, name), name


def test_every_error_is_a_pagefix_error():
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.PagefixError)
        assert name in (errors.__doc__ or ""), f"{name} is missing from the documented tree"
