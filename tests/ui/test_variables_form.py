"""The variables form: generated from the template, typed into, loaded from files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QFileDialog
from pytestqt.qtbot import QtBot

from tests.ui.runs import screenshot
from workbench.core.models import Message, PromptTemplate, Variable
from workbench.ui import theming
from workbench.ui.widgets.variables_form import EMPTY_TEXT, VariablesForm

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

TICKET = PromptTemplate(
    name="summarize-ticket",
    messages=[
        Message(role="system", content="You are a support analyst for {{ product }}."),
        Message(
            role="user",
            content="Summarize {{ ticket }} in {{ n }} bullets."
            "{% if tone %} Tone: {{ tone }}.{% endif %}",
        ),
    ],
    variables=[
        Variable(name="ticket", description="The ticket text, as the customer wrote it.",
                 multiline=True),
        Variable(name="n", description="How many bullets.", default="3"),
        Variable(name="audience", description="Who reads the summary.", default="engineers"),
        Variable(name="tone", default=""),
    ],
)


@pytest.fixture
def form(qtbot: QtBot, qapp: QApplication) -> Iterator[VariablesForm]:
    saved = qapp.palette()
    qapp.setPalette(theming.palette(False))
    form = VariablesForm()
    qtbot.addWidget(form)
    form.resize(560, 320)
    form.show()
    form.activateWindow()
    qtbot.waitUntil(lambda: qapp.activeWindow() is form)  # Tab moves focus in an active window
    yield form
    qapp.setPalette(saved)


def show(qtbot: QtBot, form: VariablesForm, template: PromptTemplate) -> None:
    with qtbot.waitSignal(form.rowsChanged):
        form.set_template(template)


def test_rows_come_from_declared_and_used_variables(qtbot: QtBot, form: VariablesForm) -> None:
    show(qtbot, form, TICKET)
    # Declared ones in their order, then the one used but not declared.
    assert form.names() == ["ticket", "n", "audience", "tone", "product"]
    rows = form._rows
    assert rows["n"].editor.placeholderText() == "default: 3"
    assert rows["ticket"].editor.placeholderText() == "required"
    assert rows["tone"].editor.placeholderText() == "default: (empty)"
    assert rows["ticket"].label.toolTip() == "The ticket text, as the customer wrote it."
    assert "nothing in the template uses it" in rows["audience"].label.toolTip()
    assert not rows["audience"].label.isEnabled()  # declared but unused: dimmed
    assert rows["product"].label.text() == "product" and rows["product"].label.font().italic()
    assert not rows["ticket"].label.font().italic()
    assert "not declared" in rows["product"].label.toolTip()
    assert rows["ticket"].editor.height() > rows["n"].editor.height()  # multi-line from the start
    assert not form.empty.isVisible()


def test_typing_a_value_emits_the_values(qtbot: QtBot, form: VariablesForm) -> None:
    show(qtbot, form, TICKET)
    with qtbot.waitSignal(form.valuesChanged) as changed:
        qtbot.keyClicks(form.editor("n"), "5")
    assert changed.args[0] == {"n": "5"}
    qtbot.keyClicks(form.editor("product"), "Acme Router")
    assert form.values() == {"n": "5", "product": "Acme Router"}
    with qtbot.waitSignal(form.valuesChanged) as cleared:
        qtbot.keyClick(form.editor("n"), Qt.Key.Key_Backspace)
    assert cleared.args[0] == {"product": "Acme Router"}  # empty: the default applies


def test_multi_line_values_grow_their_field(qtbot: QtBot, form: VariablesForm) -> None:
    show(qtbot, form, TICKET)
    field = form.editor("n")
    one_line = field.height()
    qtbot.keyClicks(field, "first")
    for line in ("second", "third"):
        qtbot.keyClick(field, Qt.Key.Key_Return)
        qtbot.keyClicks(field, line)
    assert form.values()["n"] == "first\nsecond\nthird"
    assert field.height() > one_line
    qtbot.keyClick(field, Qt.Key.Key_Tab)  # Tab leaves the field instead of typing a tab
    assert form.values()["n"] == "first\nsecond\nthird"
    assert not field.hasFocus()


def test_a_value_loaded_from_a_file(
    qtbot: QtBot, form: VariablesForm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    show(qtbot, form, TICKET)
    ticket = tmp_path / "ticket.txt"
    text = "Customer: the router reboots every hour.\r\nSince: Monday. Firmware 2.1 — “help”.\n"
    ticket.write_bytes(text.encode("utf-8"))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(ticket), ""))
    with qtbot.waitSignal(form.valuesChanged) as loaded:
        qtbot.mouseClick(form._rows["ticket"].file_button, Qt.MouseButton.LeftButton)
    # Qt's editor keeps the text's line breaks as paragraphs; the value is the file's text
    # with CRLF read as a line break, exactly as Python's text mode reads it.
    assert loaded.args[0]["ticket"] == ticket.read_text(encoding="utf-8")
    assert form.note("ticket") == f"Loaded from ticket.txt · {len(ticket.read_text()):,} characters"
    screenshot(form, "variables_form")
    with qtbot.waitSignal(form.valuesChanged) as undone:
        qtbot.keyClick(form.editor("ticket"), Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert "ticket" not in undone.args[0]


def test_a_file_that_is_not_text_is_refused_inline(
    qtbot: QtBot, form: VariablesForm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    show(qtbot, form, TICKET)
    binary = tmp_path / "photo.jpg"
    binary.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\xff\xff")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(binary), ""))
    qtbot.mouseClick(form._rows["ticket"].file_button, Qt.MouseButton.LeftButton)
    assert form.note("ticket") == "photo.jpg is not UTF-8 text; nothing was loaded."
    assert form.values() == {}
    assert not form.load_file("ticket", tmp_path / "missing.txt")
    assert form.note("ticket") == "Cannot load missing.txt: No such file or directory."


def test_values_survive_the_template_changing(qtbot: QtBot, form: VariablesForm) -> None:
    show(qtbot, form, TICKET)
    qtbot.keyClicks(form.editor("product"), "Acme Router")
    field = form.editor("n")
    qtbot.keyClicks(field, "4")
    without_product = TICKET.model_copy(
        update={"messages": [Message(role="user", content="Summarize {{ ticket }} in {{ n }}.")]}
    )
    show(qtbot, form, without_product)
    assert "product" not in form.names()
    assert form.editor("n") is field  # the same editor: cursor and undo history kept
    assert form.values() == {"n": "4"}
    show(qtbot, form, TICKET)
    assert form.values() == {"n": "4", "product": "Acme Router"}


def test_a_template_that_does_not_parse_keeps_the_rows(qtbot: QtBot, form: VariablesForm) -> None:
    show(qtbot, form, TICKET)
    broken = TICKET.model_copy(
        update={"messages": [Message(role="user", content="Summarize {{ ticket ")]}
    )
    form.set_template(broken)
    show(qtbot, form, TICKET.model_copy(update={"variables": TICKET.variables[:1]}))
    assert form.names() == ["ticket", "n", "product", "tone"]  # undeclared ones by name


def test_no_variables_says_what_to_do(qtbot: QtBot, form: VariablesForm) -> None:
    show(qtbot, form, PromptTemplate(name="x", messages=[Message(role="user", content="Hi")]))
    assert form.empty.isVisible() and form.empty.text() == EMPTY_TEXT
    assert form.names() == []


def test_set_values_fills_the_fields(qtbot: QtBot, form: VariablesForm) -> None:
    show(qtbot, form, TICKET)
    with qtbot.waitSignal(form.valuesChanged) as changed:
        form.set_values({"ticket": "It broke.", "n": "2", "elsewhere": "kept"})
    assert changed.args[0] == {"ticket": "It broke.", "n": "2"}
    assert form.editor("ticket").toPlainText() == "It broke."
