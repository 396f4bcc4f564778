"""A template's tools in other tools' files, both ways, in OpenAI's chat shape: ``tools`` (a list
of ``function`` tools) and ``tool_choice`` beside them, as promptfoo's OpenAI provider ``config``
and prompty's ``model.parameters`` pass them to the API.

The mock of each tool is the workbench playground's own and has no place there; exporters say so.
"""

from __future__ import annotations

from typing import Any

from workbench.core.models import PromptTemplate
from workbench.core.tools import (
    Tool,
    check_tool_choice,
    check_unique,
    choice_from_openai,
    openai_choice,
)
from workbench.storage.formats.results import Problems
from workbench.storage.formats.yamlsrc import Doc, describe

#: The keys of a provider config / model parameters that carry tools.
TOOL_KEYS = ("tools", "tool_choice")


def tools_config(template: PromptTemplate, warnings: list[str], where: str) -> dict[str, Any]:
    """``tools`` and ``tool_choice`` for ``template`` (empty: it has no tools); a warning in
    ``warnings`` when mocks are left out (``where``: the format's name)."""
    if not template.tools:
        return {}
    if any(t.mock is not None for t in template.tools):
        warnings.append(f"'{template.name}': {where} has no place for the tools' mocks "
                        "(the playground's results); not written")
    return {"tools": [t.as_openai() for t in template.tools],
            "tool_choice": openai_choice(template.tool_choice)}


def read_tools(
    config: dict[str, Any], doc: Doc, path: tuple[str | int, ...], problems: Problems, what: str
) -> tuple[list[Tool], str] | None:
    """The tools and tool choice in ``config`` at ``path`` (None: it has neither, or they are
    not valid and the error is reported: the prompt then runs without tools)."""
    if not any(key in config for key in TOOL_KEYS):
        return None
    value = config.get("tools", [])
    if not isinstance(value, list):
        problems.error(doc.line(*path, "tools"),
                       f"{what}: 'tools' must be a list, not {describe(value)}; not kept")
        return None
    tools: list[Tool] = []
    for index, item in enumerate(value):
        try:
            tools.append(Tool.from_openai(item))
        except ValueError as err:
            problems.error(doc.line(*path, "tools", index),
                           f"{what}: tool {index + 1} not kept: {_reason(err)}")
    try:
        choice = choice_from_openai(config.get("tool_choice", "auto"))
        check_unique(tools)
        if tools or choice != "auto":
            check_tool_choice(choice, tools)
    except ValueError as err:
        problems.error(doc.line(*path, "tool_choice" if "tool_choice" in config else "tools"),
                       f"{what}: {_reason(err)}; tools not kept")
        return None
    return tools, choice


def with_tools(template: PromptTemplate, tools: list[Tool], choice: str) -> PromptTemplate:
    """``template`` giving the model ``tools`` (read and checked by ``read_tools``)."""
    return template.model_copy(update={"tools": tools, "tool_choice": choice})


def _reason(err: ValueError) -> str:
    errors = getattr(err, "errors", None)  # pydantic's: the first message, not the whole dump
    if callable(errors):
        first = errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return f"{where}: {first['msg']}" if where else str(first["msg"])
    return str(err)
