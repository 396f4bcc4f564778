"""Evaluation suites: a YAML file naming a dataset, the variants to run on it, the assertions
every row gets and the dataset-level criteria that decide whether the suite passes (what
``workbench eval`` runs in CI). A promptfoo config is a suite too.

The suite file (paths are relative to the suite's folder)::

    name: translate                      # default: the file name
    dataset: tests.csv                   # CSV / JSONL / JSON or YAML rows / a promptfoo config
    # tests:                             # ...or rows inline:
    #   - vars: {language: French, input: Hello}
    #     expected: Bonjour
    #     assert: [{type: icontains, value: bonjour}]
    #   - vars: {product: kettle}         # a conversation row (see core.conversation_case)
    #     conversation: {turns: ["It broke.", "Refund?"], max_turns: 4}
    sample: 50                           # optional: a seeded random sample of the rows
    seed: 0
    variants:
      - label: formal
        template: translate.prompt.yaml  # a template file, or a built-in template's name
        backend: llamacpp                # a backend id or configured backend name
        model: ""
        params: {temperature: 0, max_tokens: 64}
        vars: {tone: formal}             # values for every row (a row's own win)
      - label: terse
        prompt: "Translate to {{ language }}: {{ input }}"   # or a one-message prompt inline
    assert:                              # checked on every row, before the row's own
      - {type: similar, value: "{{ expected }}", threshold: 0.7}
      - {type: not-contains, value: "As an AI"}
      - {type: javascript, value: "output.length < 400"}    # or file://checks.js[:name]
    transform: output.trim()             # JavaScript (or file://x.js / x.py) applied to every
                                         # row's output first; a row's own 'transform' wins
    criteria:                            # every variant must meet every one
      - pass_rate >= 0.9
      - fail_rate[unsafe] < 5%
    repeats: 1
    judge: {backend: llamacpp, model: ""}   # the model LLM-graded assertions use

Without ``criteria`` a suite passes when every judged case passes and no case errored
(``pass_rate >= 1``, ``error_rate <= 0``), which is what promptfoo's exit code means.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from workbench.core import paths, safe_yaml
from workbench.core.conversation_case import KEY as CONVERSATION
from workbench.core.conversation_case import case_assertions, stop_assertions, with_conversation
from workbench.core.datasets import DatasetError, assertion_from_mapping, row_from_mapping, sample
from workbench.core.errors import KnownError
from workbench.core.evaluation import JUDGED_KINDS
from workbench.core.experiments import AssertionSpec, ExperimentSpec, TestCase, Variant
from workbench.core.models import Message, Params, PromptTemplate, ResponseFormatType
from workbench.core.template_files import SUFFIX, read_template
from workbench.services.datasets import load_dataset
from workbench.services.promptfoo_backends import LOCAL_BACKEND as EMBEDDED_BACKEND
from workbench.services.promptfoo_backends import choose_backends
from workbench.services.runner import Runner
from workbench.services.scorecard import Criterion
from workbench.storage.formats import detect_format, import_file
from workbench.storage.formats.results import ImportProblem, Problems, UnknownFormatError
from workbench.storage.formats.script_files import read_transform, with_scripts

DEFAULT_CRITERIA = ("pass_rate >= 1", "error_rate <= 0")


class SuiteError(KnownError):
    """A suite file that cannot be read."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VariantEntry(_Strict):
    label: str = ""
    template: str | None = None
    prompt: str | None = None
    backend: str = "llamacpp"
    model: str = ""
    params: Params = Field(default_factory=Params)
    vars: dict[str, str] = Field(default_factory=dict)
    #: Over the template's own: one template file compared with and without enforced output.
    response_format: ResponseFormatType | None = None


class JudgeChoice(_Strict):
    backend: str
    model: str = ""


class SuiteFile(_Strict):
    name: str = ""
    description: str = ""
    dataset: str | None = None
    tests: list[dict[str, Any]] = Field(default_factory=list)
    sample: int | None = Field(default=None, ge=1)
    seed: int = 0
    variants: list[VariantEntry] = Field(min_length=1)
    assert_: list[dict[str, Any]] = Field(default_factory=list, alias="assert")
    criteria: list[str] = Field(default_factory=list)
    repeats: int = Field(1, ge=1)
    judge: JudgeChoice | None = None
    transform: str | None = None


@dataclass
class Suite:
    spec: ExperimentSpec
    criteria: list[Criterion]
    judge: JudgeChoice | None = None
    problems: list[str] = field(default_factory=list)


def load_suite(path: str | Path, *, local_fallback: bool = True) -> Suite:
    """A suite file or a promptfoo config, ready to run (``local_fallback``: a promptfoo
    provider with no configured backend of its kind runs on the local model)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as err:
        raise SuiteError(f"cannot read {path}: {err.strerror or err}") from None
    try:
        data = safe_yaml.load(text)
    except yaml.YAMLError as err:
        raise SuiteError(f"{path.name}: not valid YAML: {safe_yaml.describe(err)}") from None
    if not (isinstance(data, dict) and "variants" in data) and _is_promptfoo(path, text):
        return _promptfoo_suite(path, local_fallback)
    if not isinstance(data, dict):
        raise SuiteError(f"{path.name}: a suite is a mapping (see 'workbench eval --help')")
    try:
        suite = SuiteFile.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise SuiteError(f"{path.name}: {where}: {first['msg']}") from None
    return _suite(suite, path)


def _is_promptfoo(path: Path, text: str) -> bool:
    try:
        return detect_format(path, text) == "promptfoo"
    except UnknownFormatError:
        return False


def _promptfoo_suite(path: Path, local_fallback: bool) -> Suite:
    """A promptfoo config as a suite, its providers on configured backends of their kind or on
    the local model (noted on their lines). What could not be imported is refused on its line
    (an assertion whose script file could not be read is kept, and is an error when it runs);
    the rest runs, unless nothing is left to run."""
    result = import_file(path, "promptfoo")
    choose_backends(result, local_fallback=local_fallback)
    experiment = result.experiment
    if experiment is None or (result.errors and not (experiment.tests and experiment.variants)):
        first = result.errors[0] if result.errors else "no experiment in the file"
        raise SuiteError(f"{path.name}: {first}")
    problems = [_problem_text(p) for p in result.problems]
    judged = [a for a in _all_assertions(experiment)
              if a.type in JUDGED_KINDS and a.provider is None]
    if judged:  # promptfoo grades with its default provider, here the local model
        problems.append(f"{path.name}: {len(judged)} model-graded assertion(s) without a grader "
                        "'provider' are graded by the local embedded model")
    return Suite(
        experiment,
        [Criterion.parse(c) for c in DEFAULT_CRITERIA],
        JudgeChoice(backend=EMBEDDED_BACKEND) if judged else None,
        problems=problems,
    )


def _problem_text(problem: ImportProblem) -> str:
    """An import problem as ``where: message``: those who print ``Suite.problems`` say "warning"
    once (``str`` would add a second "warning: " after the place); a part that was refused
    says so."""
    text = str(dataclasses.replace(problem, severity="error"))  # str() prefixes only warnings
    return f"{text} (refused; the rest of the suite runs)" if problem.severity == "error" else text


def _suite(suite: SuiteFile, path: Path) -> Suite:
    base = path.parent
    problems: list[str] = []
    rows: list[TestCase] = []
    if suite.dataset:
        try:
            loaded = load_dataset(base / suite.dataset)
        except DatasetError as err:
            raise SuiteError(f"{path.name}: dataset: {err}") from None
        rows += loaded.rows
        problems += loaded.problems
    for n, item in enumerate(suite.tests, 1):
        try:
            row = row_from_mapping({k: v for k, v in item.items() if k != CONVERSATION})
            if CONVERSATION in item:
                row = with_conversation(row, item[CONVERSATION])
            rows.append(row)
        except ValueError as err:
            raise SuiteError(f"{path.name}: tests[{n}]: {err}") from None
    if not rows:
        raise SuiteError(f"{path.name}: no rows: give a 'dataset' file or inline 'tests'")
    if suite.sample is not None:
        rows = sample(rows, suite.sample, suite.seed)
    variants = [_variant(entry, base, path.name, i) for i, entry in enumerate(suite.variants)]
    try:
        defaults = [assertion_from_mapping(item) for item in suite.assert_]
    except ValueError as err:
        raise SuiteError(f"{path.name}: assert: {err}") from None
    scripts = Problems(path.name)
    defaults = [with_scripts(a, base, scripts, None) for a in defaults]
    transform = read_transform(suite.transform, base, scripts, None)
    rows = [
        row.model_copy(update={
            "assertions": [with_scripts(a, base, scripts, None) for a in row.assertions],
            "transform": read_transform(row.transform or transform, base, scripts, None),
        })
        for row in rows
    ]
    problems += [_problem_text(p) for p in scripts.items]
    spec = ExperimentSpec(
        name=suite.name or path.name.split(".")[0],
        notes=suite.description,
        variants=variants,
        tests=rows,
        default_assertions=defaults,
        repeats=suite.repeats,
    )
    criteria = [Criterion.parse(c) for c in (suite.criteria or DEFAULT_CRITERIA)]
    return Suite(spec, criteria, suite.judge, problems)


def _variant(entry: VariantEntry, base: Path, source: str, index: int) -> Variant:
    if (entry.template is None) == (entry.prompt is None):
        raise SuiteError(f"{source}: variants[{index}]: give either 'template' or 'prompt'")
    if entry.prompt is not None:
        template = PromptTemplate(
            name=entry.label or f"prompt {index + 1}",
            messages=[Message(role="user", content=entry.prompt)],
        )
    else:
        assert entry.template is not None
        template = _template(entry.template, base, source, index)
    if entry.response_format is not None:
        if entry.response_format == "json_schema" and template.output_schema is None:
            raise SuiteError(
                f"{source}: variants[{index}]: response_format json_schema needs a template "
                "with an output_schema"
            )
        if entry.response_format == "grammar" and not template.grammar:
            raise SuiteError(
                f"{source}: variants[{index}]: response_format grammar needs a template "
                "with a grammar"
            )
        template = template.model_copy(update={"response_format": entry.response_format})
    return Variant(
        label=entry.label or template.name,
        template=template,
        params=entry.params,
        backend=entry.backend,
        model=entry.model,
        variables=entry.vars,
    )


def _template(ref: str, base: Path, source: str, index: int) -> PromptTemplate:
    for candidate in (base / ref, paths.builtin_templates_dir() / f"{ref}{SUFFIX}"):
        if candidate.is_file():
            return read_template(candidate)
    raise SuiteError(
        f"{source}: variants[{index}]: no template file or built-in template named '{ref}'"
    )


def with_backend(spec: ExperimentSpec, backend: str, model: str = "") -> ExperimentSpec:
    """Every variant on ``backend`` (e.g. a promptfoo config's cloud providers run locally);
    variants that become identical are merged."""
    variants: list[Variant] = []
    seen: set[str] = set()
    for v in spec.variants:
        moved = v.model_copy(update={"backend": backend, "model": model})
        identity = moved.model_dump_json(exclude={"label"})
        if identity in seen:
            continue
        seen.add(identity)
        moved.label = f"{v.template.name} · {backend}{f':{model}' if model else ''}"
        variants.append(moved)
    return spec.model_copy(update={"variants": variants})


def with_metadata(spec: ExperimentSpec, wanted: dict[str, str]) -> ExperimentSpec:
    """Only the tests whose metadata has every ``wanted`` key at that value (or a list holding
    it), promptfoo's ``--filter-metadata``; none left is an error."""

    def matches(value: object, text: str) -> bool:
        if isinstance(value, list):
            return any(matches(v, text) for v in value)
        return value is not None and str(value) == text

    tests = [t for t in spec.tests
             if all(matches(t.metadata.get(k), v) for k, v in wanted.items())]
    if not tests:
        shown = ", ".join(f"{k}={v}" for k, v in wanted.items())
        raise SuiteError(f"no test has the metadata {shown}")
    return spec.model_copy(update={"tests": tests})


def assertion_types(spec: ExperimentSpec) -> set[str]:
    """Every assertion type the suite uses (to set up the tools they need, once)."""
    return {s.type.removeprefix("not-") for s in _all_assertions(spec)}


def transform_languages(spec: ExperimentSpec) -> set[str]:
    """The languages of every transform the suite uses (``javascript`` for inline ones)."""
    found: set[str] = set()
    specs: list[AssertionSpec] = [*spec.default_assertions]
    for test in spec.tests:
        specs += test.assertions
        if test.transform is not None:
            found.add("javascript" if isinstance(test.transform, str) else test.transform.language)
    for s in specs:
        if s.transform is not None:
            found.add("javascript" if isinstance(s.transform, str) else s.transform.language)
    return found


def suite_tools(
    spec: ExperimentSpec, runner: Runner, judge: JudgeChoice | None
) -> dict[str, object]:
    """The out-of-process Python and JavaScript evaluators and the LLM judge, made only when the
    suite uses them (a judge is only ever the backend the suite names)."""
    types = assertion_types(spec) | transform_languages(spec)
    tools: dict[str, object] = {}
    if "python" in types:
        from workbench.services.python_eval import PythonEvaluator

        tools["python"] = PythonEvaluator()
    if "javascript" in types:
        from workbench.services.js_eval import JavaScriptEvaluator

        tools["javascript"] = JavaScriptEvaluator()
    if judge is not None or graders(spec):
        from workbench.services.grader_pool import JudgePool
        from workbench.services.judges import Judge

        default = None if judge is None else Judge(runner, backend=judge.backend,
                                                   model=judge.model)
        tools["judge"] = JudgePool(runner, default)
    return tools


def _all_assertions(spec: ExperimentSpec) -> list[AssertionSpec]:
    specs: list[AssertionSpec] = [*spec.default_assertions]
    for test in spec.tests:
        specs += [*test.assertions, *case_assertions(test), *stop_assertions(test)]
    return specs


def graders(spec: ExperimentSpec) -> set[str]:
    """The graders the suite's assertions name (``provider``)."""
    return {s.provider for s in _all_assertions(spec) if s.provider is not None}
