"""The LLM-judge prompts, as built-in templates in ``templates/judges/``.

They are ordinary template files (so a person can read, copy and tune them like any prompt);
the files are generated from these definitions with ``python -m workbench.core.judge_templates``
and written with ``template_files.dumps``, and a test regenerates them and compares, so files and
code cannot drift apart. ``services.judges`` renders them.

Every judge answers in one JSON object and says why: rubric ``{"score": 1-5, "reason"}``,
pairwise ``{"winner": "1" | "2" | "tie", "reason"}``, factuality ``{"category": "A"-"E",
"reason"}`` (promptfoo's categories), closed QA ``{"answer": "Y" | "N", "reason"}``. That shape
is each template's ``output_schema``, sent as its response format: a backend that can enforce it
(llama.cpp's grammar, OpenAI's ``response_format``, a forced tool) returns a verdict that parses,
which is what makes small local models usable as judges at all.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from workbench.core.models import Message, Params, PromptTemplate, Variable
from workbench.core.paths import builtin_templates_dir
from workbench.core.template_files import SUFFIX, dumps, read_template

FOLDER = "judges"
RUBRIC = "judge-rubric"
PAIRWISE = "judge-pairwise"
FACTUALITY = "judge-factuality"
CLOSEDQA = "judge-closedqa"

#: What each point of the 1–5 scale means when a rubric gives no scale of its own.
DEFAULT_SCALE = {
    1: "Does not meet the criteria at all.",
    2: "Meets a small part of the criteria; major problems.",
    3: "Meets about half of the criteria; clear gaps.",
    4: "Meets the criteria with minor problems.",
    5: "Fully meets the criteria.",
}

#: promptfoo's factuality categories; every one but D passes.
FACTUALITY_CATEGORIES = {
    "A": "The submitted answer is a subset of the expert answer and is fully consistent with it.",
    "B": "The submitted answer is a superset of the expert answer and is fully consistent with it.",
    "C": "The submitted answer contains all the same details as the expert answer.",
    "D": "There is a disagreement between the submitted answer and the expert answer.",
    "E": "The answers differ, but these differences don't matter from the perspective of "
    "factuality.",
}

_JUDGE_PARAMS = Params(temperature=0.0, max_tokens=200, seed=0)
_SYSTEM = ("You are a careful, impartial evaluator. Judge only what is asked, follow the output "
           "format exactly and answer with a single JSON object.")


#: A reason long enough for two sentences; bounded so a rambling model still closes the object
#: within the judges' max_tokens.
REASON_MAX_CHARS = 300


def verdict_schema(name: str, values: list[Any]) -> dict[str, Any]:
    """The JSON schema of a verdict: ``name`` (one of ``values``) first, then a short reason."""
    kind = "integer" if all(isinstance(v, int) for v in values) else "string"
    return {
        "type": "object",
        "properties": {
            name: {"type": kind, "enum": values},
            "reason": {"type": "string", "maxLength": REASON_MAX_CHARS},
        },
        "required": [name, "reason"],
        "additionalProperties": False,
    }


def _var(name: str, description: str, default: str = "", multiline: bool = True) -> Variable:
    return Variable(name=name, description=description, default=default, multiline=multiline)


def rubric() -> PromptTemplate:
    return PromptTemplate(
        name=RUBRIC,
        description="LLM judge: scores an output 1-5 against criteria with a described scale.",
        tags=["judge", "evaluation"],
        messages=[
            Message(role="system", content=_SYSTEM),
            Message(role="user", content=(
                "Score the OUTPUT against the CRITERIA on a 1 to 5 scale.\n\n"
                "CRITERIA:\n{{ criteria }}\n\n"
                "SCALE:\n{{ scale }}\n"
                "{% if input %}\nINPUT the output responds to:\n{{ input }}\n{% endif %}"
                "{% if reference %}\nREFERENCE answer:\n{{ reference }}\n{% endif %}\n"
                "OUTPUT:\n{{ output }}\n\n"
                'Answer with JSON only: {"score": <1-5>, "reason": "<one or two sentences>"}'
            )),
        ],
        variables=[
            _var("criteria", "What a good output does.", "The output is correct and clear."),
            _var("scale", "One line per score: what 1..5 mean.",
                 "\n".join(f"{k}: {v}" for k, v in DEFAULT_SCALE.items())),
            _var("input", "The input the output answers (optional)."),
            _var("reference", "A reference answer (optional)."),
            _var("output", "The output to score.", "Paris is the capital of France."),
        ],
        parameters=_JUDGE_PARAMS,
        output_schema=verdict_schema("score", [1, 2, 3, 4, 5]),
        response_format="json_schema",
    )


def pairwise() -> PromptTemplate:
    return PromptTemplate(
        name=PAIRWISE,
        description="LLM judge: which of two responses is better (asked in both orders).",
        tags=["judge", "evaluation"],
        messages=[
            Message(role="system", content=_SYSTEM),
            Message(role="user", content=(
                "Compare two responses to the same input and decide which better meets the "
                "CRITERIA. Do not let the order of the responses or their length sway you.\n\n"
                "CRITERIA:\n{{ criteria }}\n"
                "{% if input %}\nINPUT:\n{{ input }}\n{% endif %}\n"
                "RESPONSE 1:\n{{ first }}\n\nRESPONSE 2:\n{{ second }}\n\n"
                'Answer with JSON only: {"winner": "1" or "2" or "tie", '
                '"reason": "<one or two sentences>"}'
            )),
        ],
        variables=[
            _var("criteria", "What makes a response better.", "Correct, clear and complete."),
            _var("input", "The input both responses answer (optional)."),
            _var("first", "The response shown first.", "Paris."),
            _var("second", "The response shown second.", "Lyon."),
        ],
        parameters=_JUDGE_PARAMS,
        output_schema=verdict_schema("winner", ["1", "2", "tie"]),
        response_format="json_schema",
    )


def factuality() -> PromptTemplate:
    categories = "\n".join(f"({k}) {v}" for k, v in FACTUALITY_CATEGORIES.items())
    return PromptTemplate(
        name=FACTUALITY,
        description="LLM judge: compares an answer's facts with an expert answer (categories "
        "A-E, as promptfoo's factuality).",
        tags=["judge", "evaluation"],
        messages=[
            Message(role="system", content=_SYSTEM),
            Message(role="user", content=(
                "Compare the factual content of the SUBMITTED answer with the EXPERT answer. "
                "Ignore differences in style, grammar or punctuation.\n"
                "{% if question %}\nQUESTION:\n{{ question }}\n{% endif %}\n"
                "EXPERT answer:\n{{ reference }}\n\nSUBMITTED answer:\n{{ output }}\n\n"
                f"Choose one category:\n{categories}\n\n"
                'Answer with JSON only: {"category": "<A-E>", "reason": "<one or two sentences>"}'
            )),
        ],
        variables=[
            _var("question", "The question both answers respond to (optional)."),
            _var("reference", "The expert (reference) answer.", "Paris is France's capital."),
            _var("output", "The submitted answer.", "The capital of France is Paris."),
        ],
        parameters=_JUDGE_PARAMS,
        output_schema=verdict_schema("category", list(FACTUALITY_CATEGORIES)),
        response_format="json_schema",
    )


def closedqa() -> PromptTemplate:
    return PromptTemplate(
        name=CLOSEDQA,
        description="LLM judge: does the output meet one criterion? (Y/N, as promptfoo's "
        "model-graded-closedqa).",
        tags=["judge", "evaluation"],
        messages=[
            Message(role="system", content=_SYSTEM),
            Message(role="user", content=(
                "Decide whether the SUBMISSION meets the CRITERION.\n"
                "{% if question %}\nINPUT:\n{{ question }}\n{% endif %}\n"
                "SUBMISSION:\n{{ output }}\n\nCRITERION:\n{{ criteria }}\n\n"
                'Answer with JSON only: {"answer": "Y" or "N", "reason": "<one sentence>"}'
            )),
        ],
        variables=[
            _var("question", "The input the submission answers (optional)."),
            _var("output", "The submission.", "Paris."),
            _var("criteria", "The criterion to check.", "Names a city."),
        ],
        parameters=_JUDGE_PARAMS,
        output_schema=verdict_schema("answer", ["Y", "N"]),
        response_format="json_schema",
    )


def judge_templates() -> list[PromptTemplate]:
    return [rubric(), pairwise(), factuality(), closedqa()]


def judges_dir() -> Path:
    return builtin_templates_dir() / FOLDER


def load(name: str) -> PromptTemplate:
    """A judge template from its file (what a person reads is what runs)."""
    return read_template(judges_dir() / f"{name}{SUFFIX}")


def write_judge_templates(folder: Path | None = None) -> list[Path]:
    """(Re)write the judge template files; returns the paths written."""
    folder = folder or judges_dir()
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for template in judge_templates():
        path = folder / f"{template.name}{SUFFIX}"
        path.write_text(dumps(template), encoding="utf-8", newline="")
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write_judge_templates(Path(sys.argv[1]) if len(sys.argv) > 1 else None):
        print(written_path)
