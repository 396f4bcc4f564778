"""Sweep files: the YAML a person writes for ``workbench compare``, read into a sweep."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.core.grid import cell_count, expand
from workbench.core.models import Params
from workbench.core.sweep_file import SweepFileError, is_sweep_file, load_sweep

TEMPLATE = """\
format_version: 1
name: capital
parameters: {max_tokens: 32, temperature: 0.2}
messages:
  - role: user
    content: "Capital of {{ country }}?"
"""


def write(folder: Path, body: str) -> Path:
    (folder / "capital.prompt.yaml").write_text(TEMPLATE)
    (folder / "terse.prompt.yaml").write_text(TEMPLATE.replace("Capital of", "Capital,"))
    path = folder / "sweep.yaml"
    path.write_text(body)
    return path


def test_parameters_models_and_variable_sets(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
name: grid
template: capital.prompt.yaml
backend: llamacpp
params: {max_tokens: 8}
variables: {country: Chad}
sweep:
  temperature: [0, 0.4, 0.8, 1.2]
  top_p: [0.5, 0.9]
models:
  - {backend: llamacpp}
  - {backend: my-vllm, model: qwen, label: qwen}
variable_sets:
  - {country: Peru}
  - vars: {country: Japan}
    expected: Tokyo
repeats: 3
""",
    )
    sweep = load_sweep(path)
    experiment = sweep.to_experiment()
    assert len(experiment.variants) == 2 * 4 * 2
    assert cell_count(experiment) == 16 * 2 * 3 == len(expand(experiment))
    first = experiment.variants[0]
    # The template's own parameters, then the file's, then the sweep's values.
    assert first.params == Params(max_tokens=8, temperature=0.0, top_p=0.5)
    assert experiment.variants[9].label == "qwen · temperature=0 · top_p=0.9"
    assert experiment.variants[9].backend == "my-vllm"
    assert experiment.tests[1].expected == "Tokyo"
    assert first.variables == {"country": "Chad"}


def test_template_versions(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
name: versions
templates:
  - {file: capital.prompt.yaml, version: "1"}
  - {file: terse.prompt.yaml, version: "2", label: terse}
params: {temperature: 0}
variable_sets: [{country: Peru}]
""",
    )
    experiment = load_sweep(path).to_experiment()
    assert [v.label for v in experiment.variants] == ["capital v1", "terse"]
    assert experiment.variants[1].template.messages[0].content == "Capital, {{ country }}?"
    assert experiment.variants[1].params == Params(max_tokens=32, temperature=0.0)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("name: x\ntemplate: missing.prompt.yaml\n", "no template file"),
        ("name: x\ntemplate: capital.prompt.yaml\nsweep: {temp: [1]}\n", "not a parameter"),
        ("name: x\ntemplate: capital.prompt.yaml\nrepeats: 0\n", "repeats"),
        ("name: x\ntemplate: capital.prompt.yaml\ncolour: red\n", "colour"),
        (
            "name: x\ntemplate: capital.prompt.yaml\ntemplates: [{file: terse.prompt.yaml}]\n",
            "either 'template' or 'templates'",
        ),
        ("name: x\ntemplate: [unclosed\n", "not valid YAML"),
        ("prompts: [a]\nproviders: [b]\n", "not a sweep file"),
    ],
)
def test_mistakes_are_named(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(SweepFileError, match=message):
        load_sweep(write(tmp_path, body))


def test_a_promptfoo_config_is_not_a_sweep_file() -> None:
    assert not is_sweep_file({"prompts": ["a"], "providers": ["echo"]})
    assert is_sweep_file({"name": "x", "template": "t"})
