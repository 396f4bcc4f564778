"""Opening a past run from the history in the main window.

A run saved from a library version reopens that version. A run of an untitled draft or of an
unsaved edit reopens the template as it ran, with its variables: an edit of a library template
as an unsaved edit of it (Ctrl+S saves the next version), a template file's bound to that file
again (Ctrl+S writes there). Older runs, and runs whose version is
gone from the library, keep only the messages they sent: those come back as an unsaved document
of literal messages, so the old output never sits next to an unrelated prompt and a ``{{`` the
run sent stays text.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from workbench.core.errors import KnownError
from workbench.core.models import Message, PromptTemplate
from workbench.core.templates import literal
from workbench.storage.repositories import StoredRun
from workbench.ui.window_support import params_of

if TYPE_CHECKING:
    from workbench.ui.main_window import MainWindow

NEVER_SAVED = "this run's template was never saved: its sent messages are restored"
AS_RAN = "this run's template was never saved: it is back as it ran, unsaved"
EDIT_AS_RAN = "this run was of an unsaved edit of “{name}”: the edit is back, unsaved"
FILE_AS_RAN = "this run was of {path}: it is back as it ran, bound to that file"
FILE_EDIT_AS_RAN = "this run was of an unsaved edit of {path}: the edit is back, unsaved"
FILE_GONE = "this run was of {path}, which cannot be read ({why}): it is back as it ran, unsaved"
GONE_AS_RAN = ("this run's template version is no longer in the library: it is back as it ran,"
               " unsaved")
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


def _show_template(window: MainWindow, stored: StoredRun, ran: PromptTemplate | None) -> str:
    """Put the template of ``stored`` in the editor (``ran``: as it ran, when known); returns
    what to tell the person ('' for a library version, shown as such)."""
    library, ref = window.workspace.library, stored.ref
    key, number = ref.template_key, ref.template_version
    if key and (number is not None or ran is None):
        try:
            template = library.load(key, number)
            shown = number or library.entry(key).version
        except KnownError:
            pass
        else:
            window.show_template(template, key, shown)
            window.library.select(key)
            return ""
    if ran is None:
        window.show_template(sent_template(stored), None, None)
        return GONE if key else NEVER_SAVED
    if key and number is None:
        try:
            window.document.load_edit(ran, key)
            name = library.entry(key).name
        except KnownError:
            pass
        else:
            window.library.select(key)
            return EDIT_AS_RAN.format(name=name)
    if ref.template_file and not key:
        path = Path(ref.template_file)
        try:
            window.document.load_file_edit(ran, path)
        except KnownError as err:
            window.show_template(ran, None, None)
            return FILE_GONE.format(path=path, why=err.message)
        return (FILE_EDIT_AS_RAN if window.dirty else FILE_AS_RAN).format(path=path)
    window.show_template(ran, None, None)
    if key:
        return GONE_AS_RAN
    window.doc_actions.draft_run(stored.id)  # saving the draft makes it a run of the template
    return AS_RAN


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
    note = _show_template(window, stored, window.workspace.store.runs.template_of(run_id))
    window.variables.set_values(dict(ref.variables))
    window.params.set_params(params_of(result))
    sent = result.request
    window.picker.select(sent.backend_name or sent.backend, sent.model)  # as configured, if known
    window.output.show_result(result)
    window.output.run_id = run_id  # a branch at a token links to it
    window.lower_tabs.setCurrentWidget(window.output)
    window.document.mark_reopened()  # as the run left it: replacing it asks nothing
    if note:
        status.showMessage(note, 15_000)
