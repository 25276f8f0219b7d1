"""The client matrix (issue 14): see test_matrix.py. A package, so its conftest does not shadow tests/conftest.py."""
