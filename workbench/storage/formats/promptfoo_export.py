"""An experiment as one self-contained promptfoo config (YAML, prompts and tests inline).

Each distinct template is a prompt (labelled with its name): a single user message is written as
Nunjucks text, several messages as a JSON chat prompt (promptfoo renders each string inside it).
Literal messages are escaped so promptfoo prints them verbatim. Distinct (backend, model,
parameters) become providers. What promptfoo has no place for is listed in the warnings.
"""

from __future__ import annotations

import json
from typing import Any

from workbench.core.experiments import AssertionSpec, ExperimentSpec, TestCase
from workbench.core.models import Message, Params, PromptTemplate
from workbench.core.templates import literal
from workbench.storage.formats.nunjucks import chat_messages, from_jinja
from workbench.storage.formats.promptfoo import provider_id
from workbench.storage.formats.promptfoo_files import is_file_ref
from workbench.storage.formats.results import Export, ExportError
from workbench.storage.formats.yamlsrc import dump_yaml


def _nunjucks(message: Message) -> str:
    return from_jinja(literal(message.content) if message.literal else message.content)


def prompt_text(template: PromptTemplate) -> str:
    """The promptfoo prompt for a template (plain text, or a JSON chat prompt)."""
    if template.mode == "completion":
        text = from_jinja(template.text)
        if chat_messages(text) is None and not is_file_ref(text):
            return text
        messages = [{"role": "user", "content": text}]
    elif len(template.messages) == 1 and template.messages[0].role == "user":
        text = _nunjucks(template.messages[0])
        if chat_messages(text) is None and not is_file_ref(text):
            return text
        messages = [{"role": "user", "content": text}]
    else:
        messages = [{"role": m.role, "content": _nunjucks(m)} for m in template.messages]
    return json.dumps(messages, ensure_ascii=False, indent=2)


def _config(params: Params) -> dict[str, Any]:
    return params.set_values()


def _assertion(spec: AssertionSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"type": f"not-{spec.type}" if spec.negate else spec.type}
    if spec.value is not None:
        out["value"] = spec.value
    if spec.threshold is not None:
        out["threshold"] = spec.threshold
    if spec.weight != 1.0:
        out["weight"] = spec.weight
    if spec.metric is not None:
        out["metric"] = spec.metric
    return out


def _test(test: TestCase) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if test.description:
        out["description"] = test.description
    out["vars"] = dict(test.vars)
    if test.assertions:
        out["assert"] = [_assertion(a) for a in test.assertions]
    metadata = dict(test.metadata)
    if "threshold" in metadata:
        out["threshold"] = metadata.pop("threshold")
    if test.expected is not None:
        metadata["expected"] = test.expected
    if metadata:
        out["metadata"] = metadata
    return out


def _template_warnings(template: PromptTemplate) -> list[str]:
    warnings = []
    if template.examples or any(template.components.model_dump().values()):
        warnings.append(
            f"'{template.name}': few-shot examples and components have no promptfoo equivalent"
        )
    defaults = [v.name for v in template.variables if v.default is not None]
    if defaults:
        warnings.append(
            f"'{template.name}': defaults of {', '.join(defaults)} are not written "
            "(give them in tests)"
        )
    return warnings


def export_promptfoo(spec: ExperimentSpec) -> Export:
    if not spec.variants:
        raise ExportError(
            f"experiment '{spec.name}' has no variants: a promptfoo config needs prompts"
        )
    warnings: list[str] = []
    templates: list[PromptTemplate] = []
    providers: list[tuple[str, str, Params]] = []
    pairs = set()
    for variant in spec.variants:
        if variant.template not in templates:
            templates.append(variant.template)
            warnings += _template_warnings(variant.template)
        key = (variant.backend, variant.model, variant.params)
        if key not in providers:
            providers.append(key)
        pairs.add((templates.index(variant.template), providers.index(key)))
        if variant.variables:
            warnings.append(f"variant '{variant.label}': its own variable values are not written")
    missing = len(templates) * len(providers) - len(pairs)
    if missing:
        warnings.append(
            "promptfoo runs every prompt with every provider: "
            f"{missing} more combinations than the experiment"
        )
    prompts = []
    for template in templates:
        entry: dict[str, Any] = {"label": template.name, "raw": prompt_text(template)}
        if config := _config(template.parameters):
            entry["config"] = config
        prompts.append(entry)
    provider_entries: list[Any] = []
    for backend, model, params in providers:
        pid = provider_id(backend, model)
        if backend not in ("openai_compat", "anthropic", "bedrock"):
            warnings.append(f"backend '{backend}' has no promptfoo provider; written as '{pid}'")
        config = _config(params)
        provider_entries.append({"id": pid, "config": config} if config else pid)
    data: dict[str, Any] = {
        "description": spec.name,
        "prompts": prompts,
        "providers": provider_entries,
    }
    if spec.default_assertions:
        data["defaultTest"] = {"assert": [_assertion(a) for a in spec.default_assertions]}
    data["tests"] = [_test(t) for t in spec.tests]
    if spec.repeats > 1:
        data["evaluateOptions"] = {"repeat": spec.repeats}
    header = "".join(f"# {line}\n" if line else "#\n" for line in spec.notes.splitlines())
    return Export(header + dump_yaml(data), warnings)
