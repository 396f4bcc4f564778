"""An experiment as one self-contained promptfoo config (YAML, prompts and tests inline).

Each distinct template is a prompt (labelled with its name): a single user message is written as
Nunjucks text, several messages as a JSON chat prompt (promptfoo renders each string inside it).
Components (``{{ parts.instruction }}``) and the few-shot block (``{{ examples_block }}``) are
written into the bodies first (``flatten``), so promptfoo renders the same prompts. Literal
messages are escaped so promptfoo prints them verbatim. Distinct (backend, model, parameters)
become providers. Variable values go along: the templates' defaults and the values every variant
shares in ``defaultTest.vars`` (tests override them), or as the one test when there are none.
What promptfoo has no place for is listed in the warnings.
"""

from __future__ import annotations

import json
from typing import Any

from workbench.core.conversation import is_rendered_chat
from workbench.core.experiments import (
    AssertionSpec,
    ExperimentSpec,
    ScriptFile,
    TestCase,
    Transform,
)
from workbench.core.js_source import inline_module
from workbench.core.models import Message, Params, PromptTemplate
from workbench.core.templates import literal
from workbench.storage.formats.flatten import flatten
from workbench.storage.formats.nunjucks import chat_messages, from_jinja
from workbench.storage.formats.promptfoo_files import is_file_ref
from workbench.storage.formats.promptfoo_providers import provider_id
from workbench.storage.formats.results import Export, ExportError
from workbench.storage.formats.tool_config import tools_config
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
    elif is_rendered_chat(template):  # its body builds the JSON message list itself
        return _nunjucks(template.messages[0])
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


def _script_value(value: Any) -> Any:
    """A script file read at import (``ScriptFile``) as inline code promptfoo runs the same way;
    any other value as it is."""
    if not (isinstance(value, dict) and "language" in value and "source" in value):
        return value
    script = ScriptFile.model_validate(value)
    if script.language == "javascript":
        return inline_module(script.source, script.function)
    return f"{script.source.rstrip()}\nreturn {script.function or 'get_assert'}(output, context)\n"


def _transform(transform: Transform, warnings: list[str]) -> str | None:
    if isinstance(transform, str):
        return transform
    if transform.language == "javascript":
        return inline_module(transform.source, transform.function)
    warnings.append(f"the Python transform {transform.path} is not written: promptfoo reads "
                    "Python transforms only from files")
    return None


def _assertion(spec: AssertionSpec, warnings: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"type": f"not-{spec.type}" if spec.negate else spec.type}
    if spec.value is not None:
        out["value"] = _script_value(spec.value)
    if spec.threshold is not None:
        out["threshold"] = spec.threshold
    if spec.weight != 1.0:
        out["weight"] = spec.weight
    if spec.metric is not None:
        out["metric"] = spec.metric
    if spec.transform is not None and (code := _transform(spec.transform, warnings)):
        out["transform"] = code
    if spec.config is not None:
        out["config"] = spec.config
    return out


def _test(test: TestCase, warnings: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if test.description:
        out["description"] = test.description
    out["vars"] = dict(test.vars)
    if test.assertions:
        out["assert"] = [_assertion(a, warnings) for a in test.assertions]
    if test.transform is not None and (code := _transform(test.transform, warnings)):
        out["options"] = {"transform": code}
    metadata = dict(test.metadata)
    if "threshold" in metadata:
        out["threshold"] = metadata.pop("threshold")
    if test.expected is not None:
        metadata["expected"] = test.expected
    if metadata:
        out["metadata"] = metadata
    return out


def _shared_values(spec: ExperimentSpec, templates: list[PromptTemplate]) -> tuple[
    dict[str, str], list[str]
]:
    """The values every prompt gets (template defaults, then the values all variants share),
    and warnings for variant values that differ between variants (promptfoo gives every prompt
    the same values)."""
    values: dict[str, str] = {}
    for template in templates:
        for variable in template.variables:
            if variable.default is not None:
                values.setdefault(variable.name, variable.default)
    warnings = []
    names = dict.fromkeys(n for v in spec.variants for n in v.variables)
    for name in names:
        seen = {v.variables.get(name) for v in spec.variants}
        if len(seen) == 1:
            values[name] = spec.variants[0].variables[name]
        else:
            labels = [v.label or f"v{i + 1}" for i, v in enumerate(spec.variants)
                      if name in v.variables]
            warnings.append(f"variants {', '.join(labels)}: their own values of '{name}' differ "
                            "and are not written (promptfoo gives every prompt the same values)")
    return values, warnings


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
        key = (variant.backend, variant.model, variant.params)
        if key not in providers:
            providers.append(key)
        pairs.add((templates.index(variant.template), providers.index(key)))
    values, value_warnings = _shared_values(spec, templates)
    warnings += value_warnings
    missing = len(templates) * len(providers) - len(pairs)
    if missing:
        warnings.append(
            "promptfoo runs every prompt with every provider: "
            f"{missing} more combinations than the experiment"
        )
    # Tools go in the providers' config when every prompt has the same (promptfoo's usual
    # place); else in each prompt's config, which promptfoo merges over its provider's.
    tools = [tools_config(t, warnings, "promptfoo") for t in templates]
    shared = tools[0] if all(t == tools[0] for t in tools) else {}
    prompts = []
    for template, own in zip(templates, tools, strict=True):
        flat = flatten(template, "promptfoo")
        warnings += flat.warnings
        entry: dict[str, Any] = {"label": template.name, "raw": prompt_text(flat.template)}
        if config := _config(template.parameters) | ({} if shared else own):
            entry["config"] = config
        prompts.append(entry)
    provider_entries: list[Any] = []
    for backend, model, params in providers:
        pid = provider_id(backend, model)
        if backend not in ("openai_compat", "anthropic", "bedrock"):
            warnings.append(f"backend '{backend}' has no promptfoo provider; written as '{pid}'")
        config = _config(params) | shared
        provider_entries.append({"id": pid, "config": config} if config else pid)
    data: dict[str, Any] = {
        "description": spec.name,
        "prompts": prompts,
        "providers": provider_entries,
    }
    default_test: dict[str, Any] = {}
    if values and spec.tests:
        default_test["vars"] = values
    if spec.default_assertions:
        default_test["assert"] = [_assertion(a, warnings) for a in spec.default_assertions]
    if default_test:
        data["defaultTest"] = default_test
    data["tests"] = [_test(t, warnings) for t in spec.tests] or (
        [{"vars": values}] if values else []
    )
    if spec.repeats > 1:
        data["evaluateOptions"] = {"repeat": spec.repeats}
    header = "".join(f"# {line}\n" if line else "#\n" for line in spec.notes.splitlines())
    return Export(header + dump_yaml(data), warnings)
