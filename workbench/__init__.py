"""Prompt Workbench: a local-first desktop workbench for prompt engineering."""

from functools import cache

_DISTRIBUTION = "prompt-workbench"


@cache
def _version() -> str:
    """The installed distribution's version: pyproject.toml is its one source of truth."""
    from importlib.metadata import version  # imported on demand: the CLI's startup stays lean

    return version(_DISTRIBUTION)


def __getattr__(name: str) -> str:
    """``__version__`` is read from the package metadata on first use (PEP 562)."""
    if name == "__version__":
        return _version()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
