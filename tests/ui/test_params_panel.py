"""The parameters panel: generated from a backend's capabilities, presets, refusing bad input."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from tests.ui.runs import screenshot
from workbench.backends.anthropic import CAPABILITIES as ANTHROPIC
from workbench.backends.llamacpp import LlamaCppBackend
from workbench.backends.openai_compat import CHAT_CAPABILITIES
from workbench.core.models import Params
from workbench.core.params import DESCRIPTIONS, Capabilities, ParamCapability, load_presets
from workbench.ui import theming
from workbench.ui.widgets.param_rows import IGNORED_TEXT
from workbench.ui.widgets.params_panel import ParamsPanel, builtin_presets_file

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


@pytest.fixture
def theme(qapp: QApplication) -> Iterator[theming.Theme]:
    saved = qapp.palette()
    theme = theming.install(qapp, "light")
    yield theme
    theme.set_mode("light")
    qapp.setPalette(saved)


@pytest.fixture
def panel(qtbot: QtBot, theme: theming.Theme, tmp_path: Path) -> ParamsPanel:
    panel = ParamsPanel(presets_dir=tmp_path / "presets")
    qtbot.addWidget(panel)
    panel.resize(380, 640)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def emitted(panel: ParamsPanel) -> list[Params]:
    seen: list[Params] = []
    panel.paramsChanged.connect(seen.append)
    return seen


def type_into(qtbot: QtBot, panel: ParamsPanel, name: str, text: str) -> None:
    spin = panel.rows[name].spin
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, text)
    qtbot.keyClick(spin, Qt.Key.Key_Return)


def test_starts_with_backend_defaults_and_teaches(panel: ParamsPanel) -> None:
    assert panel.params() == Params()
    assert panel.rows["temperature"].spin.text() == "default"
    assert panel.ignored() == []
    assert DESCRIPTIONS["top_p"] in panel.rows["top_p"].spin.toolTip()
    assert DESCRIPTIONS["stop"] in panel.stop_editor.list.toolTip()
    assert "0 to 2" in panel.rows["temperature"].spin.toolTip()  # range from Params itself


def test_ignored_parameters_are_greyed_out_not_hidden(qtbot: QtBot, panel: ParamsPanel) -> None:
    panel.set_params(Params(temperature=0.7, top_p=0.9, n=2))
    caps = LlamaCppBackend().capabilities()  # one answer per run: n and best_of ignored
    panel.set_capabilities(caps, "Local (llama.cpp) · SmolLM2-135M")
    # and a local model's thinking is not steered (its <think> block is shown apart)
    assert sorted(panel.ignored()) == ["best_of", "n", "reasoning_effort", "thinking_budget"]
    row = panel.rows["n"]
    assert row.ignored.isVisible() and row.ignored.text() == IGNORED_TEXT
    assert not row.spin.isEnabled() and not row.label.isEnabled() and not row.slider.isVisible()
    assert row.spin.value() == 2  # kept, and recorded as ignored when the run is sent
    assert "one answer per run" in row.ignored.toolTip()
    assert panel.rows["temperature"].spin.isEnabled()
    assert panel.params().n == 2
    # "default" says what the embedded model is sent (a first-time user could not tell)
    assert "'default' (this backend sends 40)" in panel.rows["top_k"].spin.toolTip()
    assert "'default' (this backend sends 1,024)" in panel.rows["max_tokens"].spin.toolTip()
    screenshot(panel, "params-ignored-light")

    # a backend that ignores top_k, as in the UX sketch
    caps = Capabilities.supporting(*(n for n in caps.params if n != "top_k"), n=ParamCapability())
    panel.set_capabilities(caps, "Sketch backend")
    assert panel.ignored() == ["top_k"]
    assert "'default' (the backend decides)" in panel.rows["temperature"].spin.toolTip()


def test_backend_range_narrows_fields_and_says_when_a_value_moved(panel: ParamsPanel) -> None:
    panel.set_params(Params(n=3, temperature=1.5))
    seen = emitted(panel)
    panel.set_capabilities(CHAT_CAPABILITIES, "OpenAI")  # n at most 1
    assert panel.rows["n"].spin.maximum() == 1
    assert panel.params().n == 1
    assert seen[-1].n == 1
    assert "Answers (n) 3 → 1" in panel.message.text()
    assert panel.ignored() == ["best_of", "thinking_budget"]  # these servers take an effort


def test_a_preset_sets_only_what_it_names(qtbot: QtBot, panel: ParamsPanel) -> None:
    """Choosing a preset kept nothing else: max tokens and a penalty set by hand went back to
    the default. A preset sets what it names; the previous preset's settings give way."""
    panel.set_params(Params(max_tokens=64, presence_penalty=0.5))
    seen = emitted(panel)
    combo = panel.preset_combo
    creative = combo.findData("Creative")
    combo.setFocus()
    while combo.currentIndex() < creative:
        qtbot.keyClick(combo, Qt.Key.Key_Down)
    assert panel.preset == "Creative"
    assert seen[-1] == Params(temperature=1.0, top_k=50, max_tokens=64, presence_penalty=0.5)
    assert panel.rows["temperature"].spin.value() == pytest.approx(1.0)
    assert panel.rows["top_k"].slider.value() == 51  # position 0 is "default"
    assert panel.rows["max_tokens"].spin.value() == 64
    assert not panel.modified_label.isVisible()  # max tokens is not the preset's to judge

    type_into(qtbot, panel, "temperature", "0.5")
    assert panel.params().temperature == pytest.approx(0.5)
    assert panel.modified_label.isVisible()

    panel.apply_preset("Deterministic")
    assert panel.greedy.isChecked() and panel.rows["seed"].value() == 42
    assert not panel.rows["temperature"].spin.isEnabled()  # greedy decides it
    # Creative's temperature and top_k give way; max tokens and the penalty stay
    assert panel.params() == Params(greedy=True, seed=42, max_tokens=64, presence_penalty=0.5)


def test_slider_and_field_move_together(qtbot: QtBot, panel: ParamsPanel) -> None:
    seen = emitted(panel)
    row = panel.rows["top_p"]
    row.slider.setFocus()
    row.slider.setValue(90)  # position 90 = 0.01 + 89 * 0.01
    assert row.spin.value() == pytest.approx(0.90)
    assert seen[-1].top_p == pytest.approx(0.90)
    type_into(qtbot, panel, "top_p", "0.25")
    assert row.slider.value() == 25


def test_invalid_input_is_refused(qtbot: QtBot, panel: ParamsPanel) -> None:
    type_into(qtbot, panel, "temperature", "0.7")
    assert panel.params().temperature == pytest.approx(0.7)
    seen = emitted(panel)
    type_into(qtbot, panel, "temperature", "abc")
    type_into(qtbot, panel, "temperature", "9")  # above 2: the field will not take it
    assert panel.params().temperature == pytest.approx(0.7)
    assert panel.rows["temperature"].spin.value() == pytest.approx(0.7)
    assert seen == []

    type_into(qtbot, panel, "n", "3")
    type_into(qtbot, panel, "best_of", "2")  # best_of below n
    assert "best_of must be at least n" in panel.message.text()
    assert panel.message.isVisible()
    assert panel.params().best_of is None and panel.rows["best_of"].value() is None
    assert panel.params().n == 3

    editor = panel.stop_editor
    editor.entry.setFocus()
    qtbot.keyClick(editor.entry, Qt.Key.Key_Return)  # empty
    assert "cannot be empty" in editor.message.text()
    qtbot.keyClicks(editor.entry, "\\n\\n")
    qtbot.keyClick(editor.entry, Qt.Key.Key_Return)
    assert panel.params().stop == ["\n\n"]
    assert editor.list.item(0).text() == "\\n\\n"
    qtbot.keyClicks(editor.entry, "\\n\\n")
    qtbot.keyClick(editor.entry, Qt.Key.Key_Return)  # duplicate
    assert "already a stop sequence" in editor.message.text()
    assert panel.params().stop == ["\n\n"]
    editor.list.setCurrentRow(0)
    editor.remove_button.click()
    assert panel.params().stop == []


def test_back_to_default_and_reset(qtbot: QtBot, panel: ParamsPanel) -> None:
    type_into(qtbot, panel, "max_tokens", "256")
    assert panel.params().max_tokens == 256
    type_into(qtbot, panel, "max_tokens", "default")
    assert panel.params().max_tokens is None
    type_into(qtbot, panel, "seed", "7")
    panel.reset_button.click()
    assert panel.params() == Params()


def test_save_as_preset_inline(qtbot: QtBot, panel: ParamsPanel, tmp_path: Path) -> None:
    type_into(qtbot, panel, "temperature", "0.3")
    type_into(qtbot, panel, "top_k", "20")
    panel.save_button.click()
    assert panel.save_row.isVisible()
    qtbot.keyClicks(panel.preset_name, "Focused notes")
    with qtbot.waitSignal(panel.presetSaved, timeout=1_000):
        qtbot.keyClick(panel.preset_name, Qt.Key.Key_Return)
    assert not panel.save_row.isVisible()
    saved = load_presets(builtin_presets_file(), tmp_path / "presets")["Focused notes"]
    assert not saved.builtin and saved.params == Params(temperature=0.3, top_k=20)
    assert panel.preset_combo.currentText() == "Focused notes (yours)"
    assert panel.preset == "Focused notes"


def test_accessible_names_everywhere(panel: ParamsPanel) -> None:
    for row in panel.rows.values():
        assert row.spin.accessibleName() and row.slider.accessibleName()
    for widget in (panel.preset_combo, panel.save_button, panel.reset_button, panel.greedy,
                   panel.stop_editor.entry, panel.stop_editor.list):
        assert widget.accessibleName() and widget.toolTip(), widget


def test_dark_screenshot(panel: ParamsPanel, theme: theming.Theme) -> None:
    panel.set_capabilities(CHAT_CAPABILITIES, "OpenAI · gpt-4o-mini")
    panel.apply_preset("Chatbot")
    theme.set_mode("dark")
    screenshot(panel, "params-ignored-dark")


def test_a_default_stays_default_when_a_backends_minimum_goes(panel: ParamsPanel) -> None:
    """Anthropic's thinking budget starts at 1024, so "default" sat at 1023; a table without
    that minimum next (another backend, or a Claude without extended thinking) read the 1023 as
    a value: a budget nobody set, and the document marked unsaved."""
    panel.set_capabilities(ANTHROPIC, "Anthropic")
    seen = emitted(panel)
    panel.set_capabilities(CHAT_CAPABILITIES, "OpenAI")
    assert panel.params().thinking_budget is None
    assert panel.rows["thinking_budget"].spin.text() == "default"
    assert all(p.thinking_budget is None for p in seen)
