"""A promptfoo config's providers run on the user's configured backends, or on the local model.

promptfoo names cloud models (``openai:gpt-4o-mini``); the workbench runs them on a backend the
person set up (Tools ▸ Backends) of the same kind: an OpenAI one (an ``openai_compat`` server at
api.openai.com), an Anthropic one, a Bedrock one, or for ``ollama:`` an OpenAI-compatible server
on this machine's port 11434. When none is configured the variant is proposed on the embedded
local model, with a note on the provider's line: nothing is sent away that the person did not
set up (``services.egress`` still asks before any remote call), and the rest of the suite runs.
Grader providers (promptfoo's ``options.provider`` and an assertion's ``provider``) are mapped
by the same rule, to the ``backend[:model]`` an ``AssertionSpec.provider`` names.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from workbench.backends.config import BackendConfig, load_configs
from workbench.backends.credentials import is_loopback
from workbench.backends.registry import default_registry
from workbench.core.experiments import AssertionSpec
from workbench.services.egress import destination
from workbench.storage.formats.promptfoo_providers import ProviderRef
from workbench.storage.formats.results import ImportProblem, ImportResult

LOCAL_BACKEND = "llamacpp"
OPENAI_HOST = "api.openai.com"
OLLAMA_PORT = 11434
_KIND_NAMES = {"openai": "OpenAI", "anthropic": "Anthropic", "bedrock": "Bedrock",
               "ollama": f"Ollama (an OpenAI-compatible server at 127.0.0.1:{OLLAMA_PORT})"}


def _address(config: BackendConfig) -> tuple[str, int | None]:
    url = str(config.options.get("base_url") or f"https://{OPENAI_HOST}/v1")
    parts = urlsplit(url if "://" in url else f"http://{url}")
    return (parts.hostname or "").lower(), parts.port


def configured_for(ref: ProviderRef, configs: dict[str, BackendConfig]) -> str | None:
    """The configured backend (by name, the first in name order) that runs ``ref``'s kind."""
    for name, config in sorted(configs.items()):
        host, port = _address(config)
        if ref.kind == "openai" and config.backend == "openai_compat" and host == OPENAI_HOST:
            return name
        if ref.kind in ("anthropic", "bedrock") and config.backend == ref.kind:
            return name
        if (ref.kind == "ollama" and config.backend == "openai_compat" and is_loopback(host)
                and port == OLLAMA_PORT):
            return name
    return None


def local_note(ref: ProviderRef) -> str:
    """Why ``ref`` runs on the local model (the per-line note of the import and of eval)."""
    if ref.known:
        missing = f"no {_KIND_NAMES[ref.kind]} backend is configured"
    else:
        missing = f"the workbench has no '{ref.kind}' backend"
    return (f"provider '{ref.id}': {missing}; it runs on the local embedded model (set one up "
            "in Tools ▸ Backends to run it there)")


def away_note(ref: ProviderRef, backend: str, configs: dict[str, BackendConfig]) -> str | None:
    """What is said on the line of a provider mapped to a backend that sends prompts away, so
    that no remote call is silent (None when it stays on this computer)."""
    where = destination(backend, configs=configs)
    if not where.remote:
        return None
    return (f"provider '{ref.id}': runs on your backend '{backend}' ({where.host}); its prompts "
            "leave this computer")


def resolve(ref: ProviderRef, configs: dict[str, BackendConfig]) -> tuple[str, str, str | None]:
    """``(backend, model, note)``: the configured backend and the model, or the local model and
    the note saying so. An id that is itself a configured name or a workbench backend id
    (``llamacpp``, ``scripted``) is kept."""
    if not ref.known and (ref.id in configs or ref.kind in default_registry().ids()):
        return (ref.id, "", None) if ref.id in configs else (ref.kind, ref.model, None)
    name = configured_for(ref, configs) if ref.known else None
    if name is not None:
        return name, ref.model, None
    return LOCAL_BACKEND, "", local_note(ref)


def choose_backends(result: ImportResult, configs: dict[str, BackendConfig] | None = None, *,
                    local_fallback: bool = True) -> None:
    """Put each variant of an imported promptfoo config on a configured backend of its
    provider's kind, or on the local model with a note on the provider's line (in place).
    Without ``local_fallback`` an unmatched variant keeps its kind's backend at its defaults
    (the app's suite window offers the local model itself, and asks before sending away)."""
    spec = result.experiment
    if spec is None:
        return
    configs = load_configs() if configs is None else configs
    noted: set[tuple[str, int | None]] = set()
    variants = []
    for variant, ref in zip(spec.variants, result.providers, strict=False):
        if ref is None:
            variants.append(variant)
            continue
        backend, model, note = resolve(ref, configs)
        if note is not None and not local_fallback:
            variants.append(variant)
            continue
        if note is None and local_fallback:
            note = away_note(ref, backend, configs)
        if note is not None and (ref.id, ref.line) not in noted:
            noted.add((ref.id, ref.line))
            result.problems.append(ImportProblem(ref.line, note, ref.source, "warning"))
        variants.append(variant.model_copy(update={"backend": backend, "model": model}))
    graders = _graders(result, configs, local_fallback)
    tests = [t.model_copy(update={"assertions": _graded(t.assertions, graders)})
             for t in spec.tests]
    result.experiment = spec.model_copy(update={
        "variants": variants, "tests": tests,
        "default_assertions": _graded(spec.default_assertions, graders)})
    result.tests = tests


def _graders(result: ImportResult, configs: dict[str, BackendConfig],
             local_fallback: bool) -> dict[str, str]:
    """Each grader provider id → the ``backend[:model]`` that grades, noted per line when it is
    the local model. Without ``local_fallback`` (the app's suite window, which asks before
    sending the variants' prompts away but not the graders') a grader that would leave this
    computer grades locally too."""
    chosen: dict[str, str] = {}
    for ref in result.graders:
        backend, model, note = resolve(ref, configs)
        if note is None and not local_fallback and destination(backend, configs=configs).remote:
            backend, model = LOCAL_BACKEND, ""
            note = (f"provider '{ref.id}': it would grade away from this computer; the local "
                    "embedded model grades instead (run the suite with 'workbench eval' to use "
                    "it)")
        elif note is None:
            note = away_note(ref, backend, configs)
        if note is not None:
            result.problems.append(ImportProblem(ref.line, f"grader {note}", ref.source,
                                                 "warning"))
        chosen[ref.id] = f"{backend}:{model}" if model else backend
    return chosen


def _graded(specs: list[AssertionSpec], graders: dict[str, str]) -> list[AssertionSpec]:
    return [s.model_copy(update={"provider": graders[s.provider]})
            if s.provider in graders else s for s in specs]
