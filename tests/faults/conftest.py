"""The tiny dataset fixture of the fault suite, shared with every file in it."""

from test_faults import tiny  # noqa: F401  (a fixture: pytest finds it here)
