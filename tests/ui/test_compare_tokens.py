"""Two columns' confidence side by side on the embedded model: mean logprob and perplexity as
compare figures, and each column's Tokens toggle showing its answer coloured by probability."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from tests.ui import test_compare_view as base
from tests.ui.runs import screenshot
from tests.ui.test_compare_view import run_all
from workbench.backends.local_models import EMBEDDED_ID
from workbench.core.experiments import Variant
from workbench.core.logprobs import mean_logprob, perplexity
from workbench.core.models import Message, Params, PromptTemplate
from workbench.ui.compare.compare_view import CompareView

manager = base.manager
make_view = base.make_view

TEMPLATE = PromptTemplate(
    name="colours", messages=[Message(role="user", content="Name three colours of the rainbow.")]
)


@pytest.mark.slow
def test_columns_show_perplexity_and_tokens(
    qtbot: QtBot, make_view: Callable[..., CompareView]
) -> None:
    def column(temperature: float, top: int | None) -> Variant:
        return Variant(template=TEMPLATE, backend="llamacpp", model=EMBEDDED_ID,
                       params=Params(max_tokens=16, temperature=temperature, seed=3,
                                     top_logprobs=top))

    view = make_view(column(0.2, 3), column(1.5, 3), column(0.2, None))
    run_all(qtbot, view, timeout=300_000)
    sure, torn, without = view.columns
    for col in (sure, torn):
        result = col.result()
        assert result is not None and result.logprobs
        assert col.metrics.text("logprob") == f"{mean_logprob(result.logprobs):.3f}"
        assert col.metrics.text("ppl") == f"{perplexity(result.logprobs):.2f}"
    assert without.metrics.text("ppl") == "–" and without.metrics.text("logprob") == "–"
    assert sure.output.tokens_button.isVisible()
    qtbot.mouseClick(sure.output.tokens_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(torn.output.tokens_button, Qt.MouseButton.LeftButton)
    assert sure.output.stack.currentWidget() is sure.output.inspector
    assert sure.output.inspector.view.toPlainText() == sure.result().text  # type: ignore[union-attr]
    screenshot(view, "compare-tokens")
