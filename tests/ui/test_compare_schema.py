"""Compare columns check their answers against the template's output_schema, on the embedded
model: the shown answer's verdict (violations at their JSON path in the tooltip) and how many of
the column's repeats are valid; a prompt-only column beside one that sends the schema."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from pytestqt.qtbot import QtBot

from tests.ui import test_compare_view as base
from tests.ui.runs import screenshot
from tests.ui.test_compare_view import run_all
from workbench.backends.local_models import EMBEDDED_ID
from workbench.core.experiments import Variant
from workbench.core.models import Message, Params, PromptTemplate
from workbench.ui.compare.compare_view import CompareView

manager = base.manager
make_view = base.make_view

SCHEMA = {
    "type": "object",
    "properties": {"capital": {"type": "string", "maxLength": 30},
                   "population_millions": {"type": "string", "pattern": "^[0-9]{1,4}$"}},
    "required": ["capital", "population_millions"],
    "additionalProperties": False,
}
TEMPLATE = PromptTemplate(
    name="capital-json", output_schema=SCHEMA,
    messages=[Message(role="user", content="The capital of France and its population, as JSON.")],
)


@pytest.mark.slow
def test_columns_count_their_schema_valid_answers(
    qtbot: QtBot, make_view: Callable[..., CompareView]
) -> None:
    def column(template: PromptTemplate) -> Variant:
        return Variant(template=template, backend="llamacpp", model=EMBEDDED_ID,
                       params=Params(max_tokens=60, temperature=0.8))

    plain = PromptTemplate(name="plain", messages=TEMPLATE.messages)
    view = make_view(column(TEMPLATE),
                     column(TEMPLATE.model_copy(update={"response_format": "json_schema"})),
                     column(plain))
    view.repeat_box.setValue(3)
    run_all(qtbot, view, timeout=300_000)
    prompt_only, grammar, no_schema = (c.output.schema_label for c in view.columns)
    assert grammar.text() == "3/3 valid · schema ✓"
    assert prompt_only.isVisible() and re.match(r"[0-3]/3 valid · schema [✓✗]", prompt_only.text())
    if prompt_only.text().startswith("schema ✗"):
        assert "Where the answer breaks" in prompt_only.toolTip()
    assert not no_schema.isVisible()
    screenshot(view, "compare-schema-valid")
