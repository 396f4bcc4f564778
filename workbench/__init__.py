"""Prompt Workbench: a local-first desktop workbench for prompt engineering."""

__version__ = "0.1.0"
