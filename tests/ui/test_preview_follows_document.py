"""The preview, its token count and the variables form always belong to the open document: a
cold user's findings (one document's render and values shown under the next one, an error's
"last one that rendered" being another document's, still stale after the error was fixed)."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from tests.ui.prompt_typing import replace_message
from tests.ui.windows import shot, window
from workbench.core.models import Message, PromptTemplate, Variable
from workbench.ui.main_window import MainWindow

__all__ = ["window"]

HAIKU = PromptTemplate(
    name="haiku",
    messages=[Message(role="user", content="Write a haiku about city lights. Mention the sea.")],
)
BLURB = PromptTemplate(
    name="product blurb",
    messages=[
        Message(
            role="user",
            content="Write a {{ style }} one-sentence product description for {{ product }}.",
        )
    ],
    variables=[Variable(name="product"), Variable(name="style")],
)
BROKEN = """format_version: 1
name: broken
messages:
- role: user
  content: Tell me about {{ thing
"""


def shown(window: MainWindow) -> str:
    return window.preview.messages_view.toPlainText()


def settled(qtbot: QtBot, window: MainWindow) -> None:
    """The variables found and the preview computed for what the editor holds now."""
    qtbot.wait(400)  # the editor's and the preview's debounces
    assert window.preview.wait()
    qtbot.wait(100)  # the results' queued delivery


def test_switching_documents_never_shows_the_one_before(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    library = window.workspace.library
    library.save(HAIKU, key="haiku")
    library.save(BLURB, key="product-blurb")
    window.library.refresh()

    window.open_library_template("haiku")
    qtbot.waitUntil(lambda: "city lights" in shown(window))
    haiku_count = window.preview.tokens_label.text()
    assert haiku_count.split()[0].isdigit()

    # (a) A document whose variables are still empty: nothing of the haiku is left.
    window.open_library_template("product-blurb")
    qtbot.waitUntil(lambda: window.variables.names() == ["product", "style"])
    settled(qtbot, window)
    assert "city lights" not in shown(window)
    assert window.preview.tokens_label.text() != haiku_count
    assert "last one that rendered" not in window.preview.error_label.text()
    # It says what is really missing, not "write a message".
    assert window.preview.error_label.text().startswith(
        "Give 'product' and 'style' values to see the preview"
    )
    placeholder = window.preview.messages_view.placeholderText()
    assert placeholder.startswith("Nothing to send yet: fill in product, style")
    summary = window.token_summary.text()
    assert summary == "Give 'product' and 'style' values to see the token count."
    shot(window, "preview_new_document_missing_values")

    window.variables.editor("product").setPlainText("a desk lamp")
    window.variables.editor("style").setPlainText("witty")
    qtbot.waitUntil(lambda: "witty one-sentence" in shown(window))

    # (b) A document with a syntax error: none of the blurb's variables, render or count.
    path = tmp_path / "broken.prompt.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    assert window.open_path(path)
    qtbot.waitUntil(lambda: window.preview.error is not None)
    settled(qtbot, window)
    assert window.variables.names() == []
    assert shown(window) == ""
    assert "last one that rendered" not in window.preview.error_label.text()
    assert window.preview.error_label.text().endswith("expected 'end of print statement'.")
    assert window.preview.tokens_label.text() == "— tokens"
    shot(window, "preview_new_document_syntax_error")

    # Fixed: its own variable, and its own render once that has a value.
    replace_message(qtbot, window, "Tell me about {{ thing }}")
    qtbot.waitUntil(lambda: window.variables.names() == ["thing"])
    settled(qtbot, window)
    assert "desk lamp" not in shown(window)
    assert window.preview.error_label.text().startswith("Give 'thing' a value")
    window.variables.editor("thing").setPlainText("tides")
    qtbot.waitUntil(lambda: "Tell me about tides" in shown(window))
    assert window.preview.error is None and window.preview.messages_view.isEnabled()
    shot(window, "preview_fixed_error_renders")


def test_an_edit_with_an_error_keeps_the_same_documents_rows_and_render(
    qtbot: QtBot, window: MainWindow
) -> None:
    """Within one document a passing syntax error (typing ``{{``) keeps its rows, their values
    and the last render, marked as such."""
    window.workspace.library.save(BLURB, key="product-blurb")
    window.library.refresh()
    window.open_library_template("product-blurb")
    qtbot.waitUntil(lambda: window.variables.names() == ["product", "style"])
    window.variables.editor("product").setPlainText("a desk lamp")
    window.variables.editor("style").setPlainText("witty")
    qtbot.waitUntil(lambda: "witty one-sentence" in shown(window))
    replace_message(qtbot, window, "Describe {{ product }} in a {{ style")
    qtbot.waitUntil(lambda: window.preview.error is not None)
    settled(qtbot, window)
    assert window.variables.names() == ["product", "style"]
    assert "witty one-sentence" in shown(window)
    assert "last one that rendered" in window.preview.error_label.text()
