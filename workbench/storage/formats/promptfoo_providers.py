"""promptfoo provider ids read by kind, before any backend is chosen.

A promptfoo config names cloud models (``openai:gpt-4o-mini``); which of the user's configured
backends runs them, or the local model when none fits, is decided by
``services.promptfoo_backends`` (storage cannot see the backend settings). Here an id is only
read: its kind (``openai``, ``anthropic``, ``bedrock``, ``ollama`` or another prefix), the
workbench backend type of that kind and the model; ids that are code to run (``file://``,
``exec:``, ``python:``, scripts) are refused on their line.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The workbench backend type of each provider kind promptfoo has and the workbench can map.
#: Ollama's is an OpenAI-compatible server on this machine (port 11434), so an unmapped
#: ``ollama`` variant keeps the kind as its backend: never OpenAI's default address.
KIND_BACKENDS = {
    "openai": "openai_compat",
    "anthropic": "anthropic",
    "bedrock": "bedrock",
    "ollama": "ollama",
}
#: Sub-types written between the kind and the model (``openai:chat:gpt-4o``).
_SUBTYPES = {
    "openai": ("chat:", "completion:", "responses:"),
    "anthropic": ("messages:", "completion:"),
    "bedrock": ("converse:", "completion:"),
    "ollama": ("chat:", "completion:"),
}
#: Providers that run code or a program: never run from an imported config.
CODE_PREFIXES = ("file://", "exec:", "python:", "golang:", "ruby:")
CODE_SUFFIXES = (".js", ".cjs", ".mjs", ".ts", ".py", ".rb", ".sh", ".go")


@dataclass(frozen=True)
class ProviderRef:
    """One promptfoo provider as written: ``backend`` is its kind's workbench backend type
    (the prefix itself for a kind the workbench has no backend for, ``known`` False)."""

    id: str
    kind: str
    backend: str
    model: str
    known: bool
    line: int | None = None
    source: str = ""


def refused(pid: str) -> str | None:
    """Why the provider ``pid`` is not imported (it is code to run), or None."""
    if pid.startswith(CODE_PREFIXES) or pid.endswith(CODE_SUFFIXES):
        return f"provider '{pid}' is code or a program to run; not imported (nothing is run)"
    return None


def read_provider(pid: str, line: int | None = None, source: str = "") -> ProviderRef:
    """The kind, backend type and model of a provider id (``refused`` ids excluded first)."""
    kind, _, rest = pid.partition(":")
    if kind not in KIND_BACKENDS:
        return ProviderRef(pid, kind, kind, rest, False, line, source)
    for sub in _SUBTYPES[kind]:
        if rest.startswith(sub):
            rest = rest[len(sub):]
            break
    return ProviderRef(pid, kind, KIND_BACKENDS[kind], rest, True, line, source)


def provider_id(backend: str, model: str) -> str:
    """The promptfoo id of a workbench backend type and model (for export)."""
    kind = {"openai_compat": "openai", "anthropic": "anthropic", "bedrock": "bedrock"}.get(backend)
    name = kind or backend
    return f"{name}:{model}" if model else name
