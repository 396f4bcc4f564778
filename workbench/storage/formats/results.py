"""What an import returns: the objects it could read and every problem, each with its line.

An importer never raises for bad content. It keeps what it could read and reports the rest, so a
malformed file costs the user the broken part only, never the whole file or the library.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from workbench.core.errors import KnownError
from workbench.core.experiments import ExperimentSpec, TestCase
from workbench.core.models import PromptTemplate
from workbench.core.params import Preset
from workbench.storage.formats.promptfoo_providers import ProviderRef

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class ImportProblem:
    """One problem in an imported file.

    ``line`` is 1-based in ``source`` (None when the problem has no single line). ``error``: that
    part was not imported. ``warning``: it was imported, but something was lost or changed
    meaning (an unsupported key, a Nunjucks filter Jinja lacks).
    """

    line: int | None
    message: str
    source: str = ""
    severity: Severity = "error"

    def __str__(self) -> str:
        where = self.source
        if self.line is not None:
            where = f"{where}:{self.line}" if where else f"line {self.line}"
        prefix = "" if self.severity == "error" else "warning: "
        return f"{where}: {prefix}{self.message}" if where else f"{prefix}{self.message}"

    def to_dict(self) -> dict[str, object]:
        return {
            "line": self.line,
            "message": self.message,
            "source": self.source,
            "severity": self.severity,
        }


@dataclass
class ImportResult:
    """Everything one file held, in the workbench's own types."""

    format: str
    templates: list[PromptTemplate] = field(default_factory=list)
    presets: list[Preset] = field(default_factory=list)
    experiment: ExperimentSpec | None = None
    tests: list[TestCase] = field(default_factory=list)
    problems: list[ImportProblem] = field(default_factory=list)
    #: The library key of each template (a bundle's structure), in ``templates`` order; empty
    #: when the file has none, None for a template without one.
    keys: list[str | None] = field(default_factory=list)
    #: A promptfoo config's provider behind each of ``experiment.variants`` (None: the config
    #: names none), for ``services.promptfoo_backends`` to choose a configured backend.
    providers: list[ProviderRef | None] = field(default_factory=list)
    #: The grader providers a promptfoo config names (assertion and ``options`` ``provider``).
    graders: list[ProviderRef] = field(default_factory=list)

    @property
    def errors(self) -> list[ImportProblem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[ImportProblem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when nothing was left out (warnings allowed)."""
        return not self.errors


class Problems:
    """Collects problems for one source file."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.items: list[ImportProblem] = []

    def error(self, line: int | None, message: str, source: str | None = None) -> None:
        self.items.append(ImportProblem(line, message, self.source if source is None else source))

    def warn(self, line: int | None, message: str, source: str | None = None) -> None:
        self.items.append(
            ImportProblem(line, message, self.source if source is None else source, "warning")
        )


class ExportError(KnownError):
    """The chosen format cannot express what is being exported (the message says what)."""


class UnknownFormatError(KnownError):
    """No importer or exporter has that name, or a file's format cannot be recognised."""


@dataclass
class Export:
    """Exported text, plus what the format could not hold (said, never dropped silently)."""

    text: str
    warnings: list[str] = field(default_factory=list)
    # What the format could not hold at all: (template name, why), each also a warning.
    left_out: list[tuple[str, str]] = field(default_factory=list)
    written: int | None = None  # templates written, when some may be left out
