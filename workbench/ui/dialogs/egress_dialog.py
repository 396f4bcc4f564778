"""Asking before prompts leave this computer: the estimate of what a run would send where
(``services.egress.EgressPlan``), and two answers. Not sending is the default button."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QMessageBox, QWidget

from workbench.core.experiments import ExperimentSpec
from workbench.services.egress import EgressPlan, plan_experiment
from workbench.services.runner import Runner

TITLE = "Send prompts off this computer?"


def confirm_remote(parent: QWidget | None, plan: EgressPlan, what: str) -> bool:
    """True when the person chose to send ``what``'s remote calls; nothing is sent otherwise."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(TITLE)
    calls = plan.remote_calls
    box.setText(f"{what} would send {calls:,} call{'s' if calls != 1 else ''} with your prompts "
                "away from this computer:")
    box.setInformativeText("\n".join(plan.lines()) + "\n\nOutput tokens and cost are upper "
                           "bounds (max_tokens per call).")
    send = box.addButton(f"Send {calls:,} call{'s' if calls != 1 else ''}",
                         QMessageBox.ButtonRole.AcceptRole)
    keep = box.addButton("Don't send", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(keep)
    box.setEscapeButton(keep)
    box.exec()
    return box.clickedButton() is send


RemoteCheck = Callable[[ExperimentSpec], bool]


def asker(parent: QWidget, runner: Runner, what: str) -> RemoteCheck:
    """A check for a window whose experiment the person did not set up in it (reopened from the
    Experiments browser): True when running ``spec`` sends nothing away, or they said yes."""

    def check(spec: ExperimentSpec) -> bool:
        plan = plan_experiment(spec, runner)
        return not plan.remote or confirm_remote(parent, plan, what)

    return check
