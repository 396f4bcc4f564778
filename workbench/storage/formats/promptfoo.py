"""promptfoo configs: prompts × providers × tests with assertions, both ways.

Import gives templates (one per promptfoo prompt), test cases (defaultTest vars merged in, array
vars expanded into one test per combination as promptfoo does) and an ``ExperimentSpec`` whose
variants are every prompt with every provider and whose default assertions are defaultTest's.
Provider ids are read by kind (``promptfoo_providers``: ``openai:[chat:]M`` → openai_compat,
``anthropic:[messages:]M`` → anthropic, ``bedrock:M`` → bedrock, ``ollama:[chat:]M`` → ollama,
other prefixes kept as written); ``services.promptfoo_backends`` then runs each on a configured
backend of its kind, or on the local model. ``{{ env.X }}`` is read from the environment first.
Export writes one self-contained YAML config (prompts and tests inline).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from workbench.core.conversation import CONVERSATION_VAR, RENDERED_CHAT
from workbench.core.experiments import (
    AssertionSpec,
    ExperimentSpec,
    TestCase,
    Transform,
    Variant,
)
from workbench.core.models import Message, Params, PromptTemplate, Variable
from workbench.core.templates import RESERVED_NAMES
from workbench.core.tools import Tool
from workbench.storage.formats.jinjatext import used_variables
from workbench.storage.formats.nunjucks import chat_messages, to_jinja
from workbench.storage.formats.promptfoo_env import render_env, substitute_env
from workbench.storage.formats.promptfoo_files import (
    RawPrompt,
    is_file_ref,
    load_structured,
    prompts_from_file,
    resolve,
)
from workbench.storage.formats.promptfoo_providers import (
    ProviderRef,
    provider_id,
    read_provider,
    refused,
)
from workbench.storage.formats.promptfoo_tests import (
    Context,
    _plain,
    read_assertions,
    read_grader,
    read_options,
    read_test,
    read_vars,
    tests_from_ref,
    with_grader,
)
from workbench.storage.formats.results import ImportResult, Problems
from workbench.storage.formats.tool_config import TOOL_KEYS, read_tools, with_tools
from workbench.storage.formats.yamlsrc import Doc, describe, load_yaml

#: promptfoo provider config keys that are workbench parameters (aliases on the right).
PARAM_KEYS = {
    "temperature": "temperature",
    "max_tokens": "max_tokens",
    "max_completion_tokens": "max_tokens",
    "top_p": "top_p",
    "top_k": "top_k",
    "min_p": "min_p",
    "presence_penalty": "presence_penalty",
    "frequency_penalty": "frequency_penalty",
    "repetition_penalty": "repetition_penalty",
    "repeat_penalty": "repetition_penalty",
    "stop": "stop",
    "stop_sequences": "stop",
    "seed": "seed",
    "n": "n",
    "best_of": "best_of",
}
TOP_LEVEL = {
    "description",
    "prompts",
    "providers",
    "tests",
    "defaultTest",
    "evaluateOptions",
    "$schema",
    "env",
    "assertionTemplates",  # what '$ref' assertions name
}
_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class Provider:
    backend: str
    model: str
    params: Params = field(default_factory=Params)
    label: str = ""
    ref: ProviderRef | None = None  # as written (None: no providers, the default backend)
    prompts: list[str] | None = None  # the prompt labels it runs (None: every prompt)
    tools: tuple[list[Tool], str] | None = None  # its config's tools and tool choice

    def runs(self, template: PromptTemplate) -> bool:
        return self.prompts is None or template.name in self.prompts

    def template_for(self, template: PromptTemplate) -> PromptTemplate:
        """``template`` as this provider runs it: with the provider's tools, unless the prompt's
        own config has tools (promptfoo merges a prompt's config over its provider's)."""
        if self.tools is None or template.tools or template.tool_choice != "auto":
            return template
        return with_tools(template, *self.tools)


def _only_prompts(value: Any, doc: Doc, path: tuple[str | int, ...],
                  problems: Problems) -> list[str] | None:
    """A provider's ``prompts``: the labels of the prompts it runs, as promptfoo limits it."""
    if value is None:
        return None
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        problems.error(doc.line(*path), f"provider 'prompts' must be a list of prompt labels, "
                                        f"not {describe(value)}; it runs every prompt")
        return None
    return names


def params_from_config(
    config: Any, doc: Doc, path: tuple[str | int, ...], problems: Problems, what: str
) -> Params:
    """The workbench parameters in a provider/prompt ``config``; other keys are reported."""
    if not isinstance(config, dict):
        problems.error(
            doc.line(*path), f"{what}: 'config' must be a mapping, not {describe(config)}"
        )
        return Params()
    values: dict[str, Any] = {}
    dropped = []
    for key, value in config.items():
        name = PARAM_KEYS.get(str(key))
        if key in TOOL_KEYS:
            continue  # read by ``read_tools``
        if name is None:
            dropped.append(str(key))
        else:
            values[name] = [value] if name == "stop" and isinstance(value, str) else value
    if dropped:
        problems.warn(
            doc.line(*path), f"{what}: config keys not kept: {', '.join(sorted(dropped))}"
        )
    try:
        return Params.model_validate(values)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        problems.error(
            doc.line(*path, *first["loc"][:1]),
            f"{what}: {where}: {first['msg']}; parameters not kept",
        )
        return Params()


def _providers(doc: Doc, problems: Problems) -> list[Provider]:
    value = doc.data.get("providers")
    if value is None:
        problems.warn(None, "no providers: the variants use the default backend")
        return [Provider("llamacpp", "")]
    items = [value] if isinstance(value, str | dict) else value
    if not isinstance(items, list):
        problems.error(doc.line("providers"), f"'providers' must be a list, not {describe(value)}")
        return []
    out: list[Provider] = []
    for i, item in enumerate(items):
        path: tuple[str | int, ...] = (
            ("providers", i) if isinstance(value, list) else ("providers",)
        )
        line = doc.line(*path)
        config: Any = {}
        label = ""
        only: list[str] | None = None
        if isinstance(item, str):
            pid = item
        elif isinstance(item, dict) and isinstance(item.get("id"), str):
            pid, label, config = item["id"], str(item.get("label") or ""), item.get("config", {})
            only = _only_prompts(item.get("prompts"), doc, (*path, "prompts"), problems)
            extra = sorted(set(item) - {"id", "label", "config", "prompts"})
            if extra:
                problems.warn(line, f"provider '{pid}': keys not kept: {', '.join(extra)}")
        elif isinstance(item, dict) and len(item) == 1:
            pid, options = next(iter(item.items()))
            options = options if isinstance(options, dict) else {}
            config, label = options.get("config", {}), str(options.get("label") or "")
            path = (*path, pid)
            only = _only_prompts(options.get("prompts"), doc, (*path, "prompts"), problems)
        else:
            problems.error(
                line,
                f"provider {i + 1}: expected an id or a mapping with 'id', not {describe(item)}",
            )
            continue
        reason = refused(pid)
        if reason is not None:
            problems.error(line, reason)
            continue
        ref = read_provider(pid, line, problems.source)
        params, tools = Params(), None
        if config:
            where, what = (*path, "config"), f"provider '{pid}'"
            params = params_from_config(config, doc, where, problems, what)
            if isinstance(config, dict):
                tools = read_tools(config, doc, where, problems, what)
        out.append(Provider(ref.backend, ref.model, params, label, ref, only, tools))
    return out


def _prompt_entries(doc: Doc, problems: Problems) -> list[tuple[RawPrompt, Any]]:
    """``(prompt, config)`` per entry of ``prompts`` (strings, objects, legacy file→label maps)."""

    value = doc.data.get("prompts")
    if isinstance(value, str):
        entries: list[tuple[Any, tuple[str | int, ...]]] = [(value, ("prompts",))]
    elif isinstance(value, list):
        entries = [(item, ("prompts", i)) for i, item in enumerate(value)]
    elif isinstance(value, dict):
        entries = [({"raw": k, "label": v}, ("prompts", k)) for k, v in value.items()]
    else:
        problems.error(doc.line("prompts") or 1, f"'prompts' must be a list, not {describe(value)}")
        return []
    out: list[tuple[RawPrompt, Any]] = []
    for item, path in entries:
        line = doc.line(*path)
        if isinstance(item, str):
            out.append((RawPrompt(item, problems.source, line), None))
        elif isinstance(item, dict) and isinstance(item.get("raw") or item.get("id"), str):
            raw: str = item.get("raw") or item["id"]
            label = item.get("label")
            extra = sorted(set(item) - {"raw", "id", "label", "config"})
            if extra:
                problems.warn(line, f"prompt keys not kept: {', '.join(extra)}")
            out.append(
                (
                    RawPrompt(raw, problems.source, line, str(label) if label else None),
                    (item.get("config"), path),
                )
            )
        else:
            problems.error(
                line, f"a prompt must be text or a mapping with 'raw', not {describe(item)}"
            )
    return out


def _label(prompt: RawPrompt, index: int, count: int) -> str:
    if prompt.label:
        return prompt.label
    if prompt.from_file:
        return prompt.source if count == 1 else f"{prompt.source} #{index}"
    first = prompt.raw.strip().splitlines()[0] if prompt.raw.strip() else "prompt"
    return first if len(first) <= 60 else first[:57] + "..."


def _template(
    prompt: RawPrompt, name: str, params: Params, problems: Problems
) -> PromptTemplate | None:
    where = prompt.source if prompt.from_file else problems.source
    chat = chat_messages(prompt.raw)
    if chat is not None and chat.error:
        problems.error(prompt.line, f"prompt '{name}': {chat.error}; not imported", source=where)
        return None
    metadata: dict[str, str] = {}
    if chat is not None and not chat.rendered:
        for _, note in chat.notes:
            problems.warn(prompt.line, f"prompt '{name}': {note}", source=where)
        messages = chat.messages
    else:
        if chat is not None:  # a message list built by its tags: rendered first, parsed after
            metadata[RENDERED_CHAT] = "json"
        converted = to_jinja(prompt.raw)
        offset = (prompt.line or 1) - 1 if prompt.from_file else 0
        if converted.error:
            at, reason = converted.error
            line = (at or 1) + offset if prompt.from_file else prompt.line
            problems.error(line, f"prompt '{name}': {reason}; not imported", source=where)
            return None
        for at, note in converted.notes:
            line = (at or 1) + offset if prompt.from_file else prompt.line
            problems.warn(line, f"prompt '{name}': {note}", source=where)
        messages = [Message(role="user", content=converted.body)]
    used: set[str] = set()
    for m in messages:
        used |= used_variables(m.content)
    names = used - RESERVED_NAMES - {CONVERSATION_VAR}
    declared = [Variable(name=n) for n in sorted(names) if _VAR_NAME.match(n)]
    return PromptTemplate(
        name=name, messages=messages, parameters=params, variables=declared, metadata=metadata
    )


def _templates(doc: Doc, base_dir: Path | None, problems: Problems,
               environ: Mapping[str, str]) -> list[PromptTemplate]:
    raw_prompts: list[tuple[RawPrompt, Any]] = []
    for prompt, config in _prompt_entries(doc, problems):
        if not is_file_ref(prompt.raw):
            raw_prompts.append((prompt, config))
            continue
        paths = resolve(prompt.raw, base_dir, problems, prompt.line)
        for path in paths:
            # A label shared by several files gets each file's name, as promptfoo does.
            several = prompt.label and len(paths) > 1
            label = f"{prompt.label}: {path.name}" if several else prompt.label
            raw_prompts += [  # promptfoo renders env templates in prompt files too
                (replace(p, raw=render_env(p.raw, p.line, problems, environ, p.source)), config)
                for p in prompts_from_file(path, label, problems, prompt.line)
            ]
    templates = []
    for index, (prompt, config) in enumerate(raw_prompts, 1):
        siblings = [p for p, _ in raw_prompts if p.from_file and p.source == prompt.source]
        position = siblings.index(prompt) + 1 if prompt.from_file else index
        name = _label(prompt, position, len(siblings))
        params, tools = Params(), None
        if config is not None and config[0] is not None:
            where, what = (*config[1], "config"), f"prompt '{name}'"
            params = params_from_config(config[0], doc, where, problems, what)
            if isinstance(config[0], dict):
                tools = read_tools(config[0], doc, where, problems, what)
        template = _template(prompt, name, params, problems)
        if template is not None:
            templates.append(template if tools is None else with_tools(template, *tools))
    return templates


def _default_test(
    doc: Doc, ctx: Context
) -> tuple[dict[str, str], list[AssertionSpec], Transform | None]:
    """defaultTest's vars (merged into every test), assertions (the experiment's defaults) and
    ``options.transform`` (for every test without its own, as promptfoo merges options)."""
    problems = ctx.problems
    default = doc.data.get("defaultTest") or {}
    where: tuple[str | int, ...] = ("defaultTest",)
    if isinstance(default, str):
        paths = resolve(default, ctx.base_dir, problems, doc.line(*where))
        loaded = load_structured(paths[0], problems, doc.line(*where)) if paths else None
        if loaded is not None:
            doc, where, default = loaded, (), loaded.data
    if not isinstance(default, dict):
        problems.error(
            doc.line(*where), f"'defaultTest' must be a mapping, not {describe(default)}"
        )
        return {}, [], None
    extra = sorted(set(default) - {"vars", "assert", "options", "metadata"})
    if extra:
        problems.warn(doc.line(*where), f"defaultTest keys not kept: {', '.join(extra)}")
    metadata = default.get("metadata")
    if isinstance(metadata, dict):  # merged into every test's, as promptfoo does
        ctx.metadata = {str(k): _plain(v) for k, v in metadata.items()}
    elif metadata is not None:
        problems.error(doc.line(*where, "metadata"),
                       f"defaultTest 'metadata' must be a mapping, not {describe(metadata)}")
    options = default.get("options")
    if isinstance(options, dict):  # promptfoo merges options: a test's own provider wins
        ctx.grader = read_grader(options.get("provider"), doc, (*where, "options", "provider"),
                                 ctx)
    base_sets = read_vars(default.get("vars"), doc, (*where, "vars"), ctx)
    if len(base_sets) > 1:
        problems.warn(
            doc.line(*where, "vars"), "defaultTest vars with several values: the first is used"
        )
    asserts = with_grader(read_assertions(default.get("assert"), doc, (*where, "assert"), ctx),
                          ctx.grader)
    transform = read_options(default.get("options"), doc, (*where, "options"), ctx)
    return base_sets[0], asserts, transform


def _tests(doc: Doc, ctx: Context, base: dict[str, str]) -> list[TestCase]:
    value = doc.data.get("tests")
    if not value:  # promptfoo runs a config without tests once, with defaultTest's vars
        return [TestCase(vars=base)] if base else []
    if isinstance(value, str):
        return tests_from_ref(value, ctx, doc.line("tests"), base)
    if not isinstance(value, list):
        ctx.problems.error(
            doc.line("tests"), f"'tests' must be a list or a file, not {describe(value)}"
        )
        return []
    tests: list[TestCase] = []
    for i, item in enumerate(value):
        if isinstance(item, str):
            tests += tests_from_ref(item, ctx, doc.line("tests", i), base)
        else:
            tests += read_test(item, doc, ("tests", i), ctx, base)
    return tests


def _repeats(doc: Doc, problems: Problems) -> int:
    options = doc.data.get("evaluateOptions")
    if not isinstance(options, dict):
        return 1
    ignored = sorted(set(options) - {"repeat"})
    if ignored:
        problems.warn(
            doc.line("evaluateOptions"), f"evaluateOptions not kept: {', '.join(ignored)}"
        )
    repeat = options.get("repeat")
    return repeat if isinstance(repeat, int) and not isinstance(repeat, bool) and repeat >= 1 else 1


def _shared_tools(template: PromptTemplate, providers: list[Provider]) -> PromptTemplate:
    """``template`` with the tools all its ``providers`` give it, when they all give the same."""
    given = [p.template_for(template) for p in providers]
    return given[0] if given and all(g == given[0] for g in given) else template


def import_promptfoo(
    text: str, source: str, base_dir: Path | None = None, environ: Mapping[str, str] | None = None
) -> ImportResult:
    """Read a promptfoo config; ``base_dir`` is its folder, for ``file://`` references;
    ``{{ env.X }}`` reads ``environ`` (default: the process environment)."""
    problems = Problems(source)
    result = ImportResult(format="promptfoo")
    result.problems = problems.items
    doc = load_yaml(text, problems)
    if doc is None:
        return result
    if not isinstance(doc.data, dict):
        problems.error(doc.line(), f"a promptfoo config is a mapping, not {describe(doc.data)}")
        return result
    for key in doc.data:
        if key not in TOP_LEVEL:
            problems.warn(doc.key_line(key), f"'{key}' is not imported")
    if "env" in doc.data:
        problems.warn(doc.key_line("env"), "'env' is not applied: {{ env.X }} reads the "
                      "process environment only")
    environ = os.environ if environ is None else environ
    substitute_env(doc, problems, environ)
    result.templates = _templates(doc, base_dir, problems, environ)
    ctx = Context(base_dir, problems)
    base, default_asserts, default_transform = _default_test(doc, ctx)
    result.tests = [
        t if t.transform is not None or default_transform is None
        else t.model_copy(update={"transform": default_transform})
        for t in _tests(doc, ctx, base)
    ]
    repeats = _repeats(doc, problems)
    providers = _providers(doc, problems)
    result.graders = ctx.graders
    description = doc.data.get("description")
    stem = re.sub(r"\.(ya?ml|json)$", "", Path(source).name)
    # Tools every provider of a prompt gives it belong to its template (the library keeps them).
    result.templates = [_shared_tools(t, [p for p in providers if p.runs(t)])
                        for t in result.templates]
    variants = [
        Variant(
            label=f"{t.name} · {p.label or provider_id(p.backend, p.model)}",
            template=p.template_for(t),
            params=p.params,
            backend=p.backend,
            model=p.model,
        )
        for t in result.templates
        for p in providers
        if p.runs(t)
    ]
    result.providers = [p.ref for t in result.templates for p in providers if p.runs(t)]
    for p in providers:
        unknown = sorted(set(p.prompts or ()) - {t.name for t in result.templates})
        if unknown and p.ref is not None:
            problems.warn(p.ref.line, f"provider '{p.ref.id}': no prompt labelled "
                                      f"{', '.join(map(repr, unknown))}")
    result.experiment = ExperimentSpec(
        name=str(description) if description else stem or "promptfoo",
        variants=variants,
        tests=result.tests,
        default_assertions=default_asserts,
        repeats=repeats,
    )
    return result
