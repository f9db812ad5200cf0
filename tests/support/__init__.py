"""Helpers shared by the tests, importable from any test as `support.<module>` (pyproject's pytest
`pythonpath` puts tests/ on the path). The fixtures that use them live in tests/conftest.py."""
