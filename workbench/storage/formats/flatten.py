"""Templates flattened to plain message bodies, for formats without components or examples.

Prompty files, llm templates and CSV cells hold message text only. A workbench body's
``{{ parts.NAME }}`` is component NAME rendered with the same values as the body, then inserted
verbatim, so writing the component's own source in place of the tag renders the same text and
keeps its variables as variables. ``{{ examples_block }}`` is the few-shot examples formatted and
joined; it becomes that fixed text (escaped so it renders verbatim). A body that uses ``parts``,
``examples`` or ``examples_block`` any other way (a filter, a condition, a loop over examples)
cannot be flattened: ``ExportError`` names the template and the body, and nothing is written
silently wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from jinja2 import TemplateSyntaxError

from workbench.core.models import Components, FewShot, PromptTemplate
from workbench.core.templates import COMPONENT_NAMES, RESERVED_NAMES, literal, select_examples
from workbench.storage.formats.jinjatext import replace_outputs, used_variables
from workbench.storage.formats.results import ExportError

#: Keeps a ``-`` marker at a component's edge from stripping the body's text around it.
_GUARD = "{{ '' }}"
_LEFT_STRIP = ("{{-", "{%-", "{#-")


@dataclass
class Flat:
    """The flattened template and what changed meaning on the way (said, never dropped)."""

    template: PromptTemplate
    warnings: list[str] = field(default_factory=list)


def _component(source: str) -> str:
    """A component's source, safe to write inside another body: a ``-`` marker at its edge
    strips only the component's own whitespace, as when it is rendered alone."""
    if source.lstrip().startswith(_LEFT_STRIP):
        source = _GUARD + source
    if source.rstrip().endswith(("-}}", "-%}", "-#}")):
        source += _GUARD
    return source


def _part_name(tokens: list[tuple[str, str]]) -> str | None:
    """NAME of a ``parts.NAME`` or ``parts['NAME']`` tag."""
    if len(tokens) == 3 and tokens[0] == ("name", "parts") and tokens[1] == ("operator", "."):
        name = tokens[2][1]
    elif (
        len(tokens) == 4
        and tokens[0] == ("name", "parts")
        and tokens[1] == ("operator", "[")
        and tokens[2][0] == "string"
        and tokens[3] == ("operator", "]")
    ):
        name = tokens[2][1][1:-1]
    else:
        return None
    return name if name in COMPONENT_NAMES else None


def _examples_block(template: PromptTemplate) -> str:
    shots = select_examples(template.examples, template)
    return template.few_shot.separator.join(text for _, text in shots)


def flatten(template: PromptTemplate, fmt: str, *, examples: bool = True) -> Flat:
    """``template`` with its components (and, if ``examples``, its examples) written into the
    bodies. ``fmt`` names the format in messages. Raises ``ExportError`` when a body uses them in
    a way that is not plain output."""
    flat = Flat(template)
    components = {name: getattr(template.components, name) for name in COMPONENT_NAMES}
    block: str | None = None

    def replacement(tokens: list[tuple[str, str]]) -> str | None:
        nonlocal block
        name = _part_name(tokens)
        if name is not None:
            return _component(components[name]) if components[name] else ""
        if examples and tokens == [("name", "examples_block")]:
            if block is None:
                block = _examples_block(template)
            return literal(block)
        return None

    def rewrite(source: str, where: str) -> str:
        try:
            body = replace_outputs(source, replacement)
            left = used_variables(body) & RESERVED_NAMES
        except TemplateSyntaxError as err:
            raise ExportError(
                f"template '{template.name}': {where} is not valid Jinja: {err}"
            ) from None
        if not examples:
            left -= {"examples", "examples_block"}
        if left:
            uses = ", ".join(sorted(left))
            raise ExportError(
                f"template '{template.name}': {where} uses {uses} other than as "
                "'{{ parts.NAME }}' or '{{ examples_block }}', which a "
                f"{fmt} file cannot express"
            )
        return body

    updates: dict[str, object] = {"components": Components()}
    if template.mode == "completion":
        updates["text"] = rewrite(template.text, "the text")
    else:
        updates["messages"] = [
            m
            if m.literal
            else m.model_copy(update={"content": rewrite(m.content, f"the {m.role} message {i}")})
            for i, m in enumerate(template.messages, 1)
        ]
    if examples:
        updates.update(examples=[], few_shot=FewShot())
        if block is not None and template.few_shot.token_budget is not None:
            flat.warnings.append(
                f"'{template.name}': the few-shot examples are written as fixed text without "
                f"their token budget ({template.few_shot.token_budget})"
            )
    flat.template = template.model_copy(update=updates)
    return flat
