"""Generate rows…: a model proposes dataset rows, and a person reviews them before any is kept.

The description and count fill the built-in generation prompt, shown (collapsed) and editable: an
edited prompt is sent as written and no longer follows the description. Generating runs off the
GUI thread and can be cancelled; a backend that would send the prompt off this computer asks
first (``services.egress``). The review table has a checkbox per row and editable cells; the
rows that repeated another, or a row the dataset already has, were dropped and are counted.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from workbench.backends.base import CancelToken
from workbench.backends.config import load_configs
from workbench.core.datasets import EXPECTED
from workbench.core.errors import KnownError
from workbench.core.experiments import TestCase
from workbench.core.models import Params, PromptTemplate
from workbench.core.wording import plural
from workbench.services.datagen import (
    GeneratedRows,
    generate_rows,
    generation_plan,
    generator_prompt,
    generator_template,
)
from workbench.services.egress import EgressPlan
from workbench.services.runner import Runner
from workbench.ui.background import Reporter, TaskRunner, TaskWorker
from workbench.ui.dialogs.egress_dialog import confirm_remote
from workbench.ui.widgets.progress_strip import ProgressStrip

LOCAL = "llamacpp"
#: Output tokens allowed per requested row, and for the JSON around them.
TOKENS_PER_ROW = 120
TOKENS_AROUND = 64


class GenerateRowsDialog(QDialog):
    """Propose rows for ``columns`` (the template's variables), review them, keep the ticked
    ones (``kept``). ``existing`` rows are never proposed again. ``backends`` offered besides
    the local model: the configured ones unless given."""

    def __init__(
        self,
        runner: Runner,
        columns: Sequence[str],
        existing: Sequence[TestCase] = (),
        *,
        backends: Sequence[str] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Generate rows")
        self.runner = runner
        self.columns = [c for c in columns if c != EXPECTED]
        self.existing = list(existing)
        self.kept: list[TestCase] = []
        self.generated: GeneratedRows | None = None
        self._prompt_edited = False
        self._setting_prompt = False

        self.description = QPlainTextEdit(self)
        self.description.setAccessibleName("Describe the rows")
        self.description.setPlaceholderText(
            "What the template does and what the rows should cover, e.g. “questions about "
            "European capitals, some tricky”"
        )
        self.description.setFixedHeight(self.fontMetrics().lineSpacing() * 4)
        self.count = QSpinBox(self)
        self.count.setAccessibleName("Number of rows")
        self.count.setRange(1, 200)
        self.count.setValue(10)
        self.expected = QCheckBox("Ask for an expected output too", self)
        self.expected.setAccessibleName("Ask for expected outputs")
        self.backend = QComboBox(self)
        self.backend.setAccessibleName("Backend")
        self.backend.addItem("Local model (llamacpp)", LOCAL)
        if backends is None:
            backends = list(runner.configs if runner.configs is not None else load_configs())
        for name in backends:
            if name != LOCAL:
                self.backend.addItem(name, name)
        self.model = QLineEdit(self)
        self.model.setAccessibleName("Model")
        self.model.setPlaceholderText("the backend's default")

        self.prompt_toggle = QToolButton(self)
        self.prompt_toggle.setText("Generation prompt")
        self.prompt_toggle.setCheckable(True)
        self.prompt_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.prompt_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.prompt_toggle.setAutoRaise(True)
        self.prompt_toggle.setToolTip("Show the prompt the model is sent, and edit it")
        self.prompt_toggle.toggled.connect(self._show_prompt)
        self.prompt = QPlainTextEdit(self)
        self.prompt.setAccessibleName("Generation prompt")
        self.prompt.setHidden(True)
        self.prompt.textChanged.connect(self._prompt_changed)
        self.reset_prompt = QPushButton("Reset prompt", self)
        self.reset_prompt.setToolTip("Back to the built-in prompt for the description and count")
        self.reset_prompt.setHidden(True)
        self.reset_prompt.clicked.connect(self._reset_prompt)

        self.generate_button = QPushButton("Generate", self)
        self.generate_button.setDefault(True)
        self.generate_button.clicked.connect(self.generate)
        self.progress = ProgressStrip(self)
        self.status = QLabel(self)
        self.status.setAccessibleName("Generation status")
        self.status.setWordWrap(True)
        self.table = QTableWidget(0, len(self.columns) + 1, self)
        self.table.setAccessibleName("Generated rows")
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(
            0, QHeaderView.ResizeMode.ResizeToContents
        )
        self.keep_button = QPushButton("Keep selected", self)
        self.keep_button.setToolTip("Add the ticked rows, as edited, to the dataset")
        self.keep_button.setEnabled(False)
        self.keep_button.clicked.connect(self._keep)
        close = QPushButton("Close", self)
        close.clicked.connect(self.reject)

        form = QFormLayout()
        form.addRow("Describe the rows", self.description)
        count_row = QHBoxLayout()
        count_row.addWidget(self.count)
        count_row.addWidget(self.expected)
        count_row.addStretch(1)
        form.addRow("Rows", count_row)
        backend_row = QHBoxLayout()
        backend_row.addWidget(self.backend, 1)
        backend_row.addWidget(self.model, 1)
        form.addRow("Backend", backend_row)
        prompt_bar = QHBoxLayout()
        prompt_bar.addWidget(self.prompt_toggle)
        prompt_bar.addStretch(1)
        prompt_bar.addWidget(self.reset_prompt)
        prompt_bar.addWidget(self.generate_button)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.keep_button)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(prompt_bar)
        layout.addWidget(self.prompt, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 2)
        layout.addLayout(buttons)

        self.description.textChanged.connect(self._refresh_prompt)
        self.count.valueChanged.connect(self._refresh_prompt)
        self.expected.toggled.connect(self._refresh_prompt)
        self.tasks = TaskRunner(self, max_threads=1)
        self.worker: TaskWorker[GeneratedRows] | None = None
        self._refresh_prompt()
        self._set_headers()
        self.resize(760, 620)

    # --- the prompt ----------------------------------------------------------------------------

    def wanted(self) -> list[str]:
        """The keys each row is asked for."""
        return [*self.columns, *([EXPECTED] if self.expected.isChecked() else [])]

    def _built_in(self) -> str:
        return generator_prompt(
            self.description.toPlainText().strip(), self.wanted(), n=self.count.value()
        )

    def _refresh_prompt(self) -> None:
        if not self._prompt_edited:
            self._setting_prompt = True
            self.prompt.setPlainText(self._built_in())
            self._setting_prompt = False

    def _prompt_changed(self) -> None:
        if not self._setting_prompt:
            self._prompt_edited = True
            self.reset_prompt.setVisible(self.prompt.isVisible())

    def _reset_prompt(self) -> None:
        self._prompt_edited = False
        self.reset_prompt.hide()
        self._refresh_prompt()

    def _show_prompt(self, shown: bool) -> None:
        arrow = Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow
        self.prompt_toggle.setArrowType(arrow)
        self.prompt.setVisible(shown)
        self.reset_prompt.setVisible(shown and self._prompt_edited)

    # --- generating ----------------------------------------------------------------------------

    def _request(self) -> tuple[str, str, Params]:
        backend = str(self.backend.currentData())
        params = Params(max_tokens=TOKENS_AROUND + TOKENS_PER_ROW * self.count.value())
        return backend, self.model.text().strip(), params

    def generate(self) -> None:
        """Generate (after asking, if the prompt would leave this computer)."""
        if not self.description.toPlainText().strip() and not self._prompt_edited:
            self.status.setText("Describe the rows first: what should they cover?")
            return
        backend, model, params = self._request()
        template, values = self._template()
        self.generate_button.setEnabled(False)
        self.status.setText("Checking where the prompt would go…")
        check: TaskWorker[EgressPlan] = TaskWorker(lambda _r, _c: generation_plan(
            self.runner, template, values, backend=backend, model=model, params=params))
        check.signals.finished.connect(self._checked)
        check.signals.failed.connect(self._failed)
        self.tasks.start(check)

    def _template(self) -> tuple[PromptTemplate, dict[str, str]]:
        prompt = self.prompt.toPlainText() if self._prompt_edited else None
        return generator_template(
            self.description.toPlainText().strip(), self.wanted(), n=self.count.value(),
            prompt=prompt,
        )

    def _checked(self, plan: EgressPlan) -> None:
        if plan.remote and not confirm_remote(self, plan, "Generating rows"):
            self.generate_button.setEnabled(True)
            self.status.setText("Nothing was sent: no rows were generated.")
            return
        self._start()

    def _start(self) -> None:
        backend, model, params = self._request()
        template, values = self._template()
        wanted = self.wanted()
        existing = self.existing

        def work(_report: Reporter, cancel: CancelToken) -> GeneratedRows:
            return generate_rows(
                self.runner, template, values, backend=backend, model=model, params=params,
                columns=wanted, existing=existing, cancel=cancel, want=self.count.value(),
            )

        worker: TaskWorker[GeneratedRows] = TaskWorker(work)
        what = f"Generating {plural(self.count.value(), 'row')}"
        self.progress.track_task(worker, what)  # type: ignore[arg-type]
        worker.signals.finished.connect(self._show)
        worker.signals.failed.connect(self._failed)
        worker.signals.cancelled.connect(self._cancelled)
        self.worker = worker
        self.status.setText("")
        self.tasks.start(worker)

    def _failed(self, error: KnownError) -> None:
        self.generate_button.setEnabled(True)
        self.status.setText(f"No rows: {error}")

    def _cancelled(self) -> None:
        self.generate_button.setEnabled(True)
        self.status.setText("Cancelled: no rows were generated.")

    # --- reviewing -----------------------------------------------------------------------------

    def _set_headers(self) -> None:
        names = self.wanted()
        self.table.setColumnCount(len(names) + 1)
        self.table.setHorizontalHeaderLabels(["Keep", *names])

    def _show(self, out: GeneratedRows) -> None:
        self.generate_button.setEnabled(True)
        self.generated = out
        self._set_headers()
        names = self.wanted()
        self.table.setRowCount(len(out.rows))
        for r, row in enumerate(out.rows):
            keep = QTableWidgetItem()
            keep.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
            keep.setCheckState(Qt.CheckState.Checked)
            self.table.setItem(r, 0, keep)
            for c, name in enumerate(names, 1):
                value = (row.expected or "") if name == EXPECTED else row.vars.get(name, "")
                self.table.setItem(r, c, QTableWidgetItem(value))
        self.keep_button.setEnabled(bool(out.rows))
        parts = [f"{plural(len(out.rows), 'row')} of {self.count.value()} asked for in "
                 f"{plural(out.rounds, 'round')}"]
        if out.duplicates:
            already = sum(d.existing for d in out.duplicates)
            parts.append(f"{plural(len(out.duplicates), 'duplicate')} dropped"
                         + (f" ({already} already in the dataset)" if already else ""))
        parts += out.problems
        self.status.setText(" · ".join(parts))
        self.status.setToolTip("\n".join(
            f"dropped: {_shown(d.row)} — repeats {_shown(d.of)}"
            + (" (in the dataset)" if d.existing else "")
            for d in out.duplicates
        ))

    def rows(self) -> list[TestCase]:
        """The ticked rows, as edited in the table."""
        names = self.wanted()
        found = []
        for r in range(self.table.rowCount()):
            keep = self.table.item(r, 0)
            if keep is None or keep.checkState() != Qt.CheckState.Checked:
                continue
            cells = {n: (self.table.item(r, c) or QTableWidgetItem()).text()
                     for c, n in enumerate(names, 1)}
            expected = cells.pop(EXPECTED, None)
            found.append(TestCase(vars=cells, expected=expected))
        return found

    def _keep(self) -> None:
        self.kept = self.rows()
        self.accept()

    def done(self, result: int) -> None:
        if self.worker is not None:
            self.worker.cancel()
        self.tasks.shutdown(timeout_s=5.0)
        super().done(result)


def _shown(row: TestCase) -> str:
    return ", ".join(f"{k}: {v!r}" for k, v in row.vars.items())
