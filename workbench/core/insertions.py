"""A technique's plan put into a person's message, and every technique's additions taken out.

What a technique adds is recognisable again: the ``{{ examples_block }}`` paragraph, the JSON
schema guidance, a cue paragraph made only of known cue lines ("Let's think step by step." ...),
and the rationale label on the query's answer line ("Reasoning:" where the query had "Answer:").
``strip`` takes all of them out, whichever technique put them there, and ``insert`` puts one
plan's in, so applying a technique twice changes nothing and switching technique replaces the
previous one's additions instead of stacking them. Nothing else in the message is touched.
"""

from __future__ import annotations

from workbench.core.models import Components, FewShot
from workbench.core.prompt_body import (
    EXAMPLES_PARAGRAPH,
    Body,
    answer_label,
    find_query,
    is_examples_paragraph,
    relabel,
    set_answer_label,
    uses_examples,
)
from workbench.core.scaffolds import Plan, Shots, TechniqueError, is_json_guidance
from workbench.core.templates import COMPONENT_NAMES, literal


def no_request() -> TechniqueError:
    return TechniqueError(
        "the template has no request to work on",
        hint="write the request in a user message (or fill in the prompt components)",
    )


def _cut_cue(line: str, cues: frozenset[str]) -> str | None:
    """``line`` without the cue it is, starts or ends with (None: it holds none). A person who
    typed on after a cue ("Let's think step by step. Keep it short.") keeps their words, and
    the cue is still recognised as the technique's."""
    line = line.strip()
    for cue in cues:
        if line == cue:
            return ""
        if line.startswith(cue + " "):
            return line[len(cue):].strip()
        if line.endswith(" " + cue):
            return line[: -len(cue)].strip()
    return None


def _without_cues(paragraph: str, cues: frozenset[str]) -> str | None:
    """``paragraph`` with the cues in its lines taken out (None: it holds none); empty when it
    was only cues."""
    lines = paragraph.split("\n")
    cut = [_cut_cue(line, cues) for line in lines]
    if all(rest is None for rest in cut):
        return None
    kept = [line if rest is None else rest for line, rest in zip(lines, cut, strict=True)]
    return "\n".join(line for line in kept if line.strip())


def _glue(separator: str) -> str:
    """The examples block as it stands before the query: the query follows the examples as the
    next one would, after the same separator."""
    return EXAMPLES_PARAGRAPH + literal(separator)


def strip(source: str, few_shot: FewShot, cues: frozenset[str]) -> Body:
    """``source`` without anything a technique adds; the rest stays exactly as written."""
    body = Body.parse(source.replace(_glue(few_shot.separator), "", 1))
    for index in reversed(range(len(body.paragraphs))):
        paragraph = body.paragraphs[index]
        if is_examples_paragraph(paragraph) or is_json_guidance(paragraph):
            body.remove(index)
            continue
        rest = _without_cues(paragraph, cues)
        if rest == "":
            body.remove(index)
        elif rest is not None:
            body.paragraphs[index] = rest
    known = Shots.recover(few_shot.example_format)
    query = find_query(body)
    rationale = known.rationale_label if known else ""
    if known and rationale and query and answer_label(body, query) == rationale:
        set_answer_label(body, query, known.output_label)
    return body


def found_shots(body: Body) -> Shots | None:
    """The labels the query of a (stripped) body is written with, if it names both."""
    query = find_query(body)
    if query is None or not query.labelled:
        return None
    return Shots(query.input_label, query.output_label)


def insert(body: Body, plan: Plan) -> None:
    """Put ``plan`` into a stripped body: guidance and the examples before the query, the cue
    after everything; a labelled query takes the plan's labels."""
    query = find_query(body)
    if query is None:
        raise no_request()
    shots = plan.shots
    if shots is not None:
        wanted = (shots.input_label, shots.output_label)
        if query.labelled and (query.input_label, query.output_label) != wanted:
            relabel(body, query, *wanted)
        if shots.rationale_label and answer_label(body, query) == shots.output_label:
            set_answer_label(body, query, shots.rationale_label)
    examples = shots is not None and not uses_examples(body.text())
    for offset, paragraph in enumerate(plan.lead):
        body.insert(query.index + offset, paragraph)
    if examples:
        at = query.index + len(plan.lead)
        body.paragraphs[at] = _glue(plan.few_shot.separator) + body.paragraphs[at]
    for paragraph in plan.tail:
        body.append(paragraph)


def compose(components: Components, shots: Shots | None, *, inline: bool) -> str:
    """A message from the prompt components, in their order: the components' own text
    (``inline``) or ``{{ parts.* }}`` references to them. With ``shots`` the input is written
    with the labels the examples use, and the output indicator comes before it."""
    filled = [name for name in COMPONENT_NAMES if getattr(components, name)]

    def part(name: str) -> str:
        return str(getattr(components, name)) if inline else f"{{{{ parts.{name} }}}}"

    blocks = [part(name) for name in ("instruction", "context") if name in filled]
    labelled = shots is not None and "input_data" in filled
    if labelled and "output_indicator" in filled:
        blocks.append(part("output_indicator"))
    if "input_data" in filled:
        query = part("input_data")
        if shots is not None:
            query = f"{shots.input_label}: {query}\n{shots.output_label}:"
        blocks.append(query)
    if not labelled and "output_indicator" in filled:
        blocks.append(part("output_indicator"))
    return "\n\n".join(blocks)

