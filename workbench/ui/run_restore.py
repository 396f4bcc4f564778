"""Opening a past run from the history in the main window.

A run saved from a library version reopens that version. A run of a prompt that was never saved
(or whose template is gone from the library) keeps no template, only the messages it sent: those
come back as an unsaved document of literal messages, so the old output never sits next to an
unrelated prompt and a ``{{`` the run sent stays text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.core.errors import KnownError
from workbench.core.models import Message, PromptTemplate
from workbench.core.templates import literal
from workbench.storage.repositories import StoredRun
from workbench.ui.window_support import params_of

if TYPE_CHECKING:
    from workbench.ui.main_window import MainWindow

NEVER_SAVED = "this run's template was never saved: its sent messages are restored"
GONE = "this run's template version is no longer in the library: its sent messages are restored"


def sent_template(stored: StoredRun) -> PromptTemplate:
    """An unsaved document that sends exactly what ``stored`` sent, named after the run. A turn
    of a tool conversation gives back the prompt that began it, with the tools it sent (their
    mocks were never sent, so they are not there to restore)."""
    request = stored.result.request
    name = f"run {stored.created_at[:16].replace('T', ' ')}"
    params = params_of(stored.result)
    if request.messages:
        sent = request.messages
        begun = next((i for i, m in enumerate(sent) if m.tool_calls or m.role == "tool"),
                     len(sent))
        messages = [Message.model_validate({"role": m.role, "content": m.content, "literal": True,
                                            "images": m.images})
                    for m in sent[:begun]]
        return PromptTemplate(name=name, messages=messages, parameters=params,
                              tools=request.tools, tool_choice=request.tool_choice)
    return PromptTemplate(
        name=name, mode="completion", text=literal(request.prompt or ""), parameters=params
    )


def restore_run(window: MainWindow, run_id: str) -> None:
    """Open a past run: its template (or what it sent), variables, parameters, backend and
    output."""
    status = window.statusBar()
    try:
        stored = window.workspace.store.runs.get(run_id)
    except KnownError as err:
        status.showMessage(str(err), 10_000)
        return
    ref, result = stored.ref, stored.result
    if not window.keep_or_drop_edits():
        return
    note = NEVER_SAVED
    if ref.template_key:
        library = window.workspace.library
        try:
            template = library.load(ref.template_key, ref.template_version)
            number = ref.template_version or library.entry(ref.template_key).version
        except KnownError:
            note = GONE
        else:
            window.show_template(template, ref.template_key, number)
            window.library.select(ref.template_key)
            note = ""
    if note:
        window.show_template(sent_template(stored), None, None)
    window.variables.set_values(dict(ref.variables))
    window.params.set_params(params_of(result))
    sent = result.request
    window.picker.select(sent.backend_name or sent.backend, sent.model)  # as configured, if known
    window.output.show_result(result)
    window.output.run_id = run_id  # a branch at a token links to it
    window.lower_tabs.setCurrentWidget(window.output)
    if note:
        status.showMessage(note, 15_000)
