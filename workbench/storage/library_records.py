"""The prompt library's records and naming rules, apart from the code that writes them.

A template's key is its path under the library folder without the suffix, with forward slashes:
``support/summarize-ticket``. Its folder part is its collection.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from workbench.core.errors import KnownError, TemplateFileError
from workbench.core.models import PromptTemplate
from workbench.core.paths import data_dir
from workbench.core.template_files import SUFFIX, TemplateFile, loads

VersionRef = int | str | None  # a number, "v3", a label, or None / "head" for the latest
_SEGMENT = re.compile(r'^[^/\\:*?"<>|\x00-\x1f]+$')
RESERVED_LABELS = {"head", "latest"}


def default_folder() -> Path:
    return data_dir() / "library"


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def slug(name: str) -> str:
    """A file-name-safe form of a template name (letters of any script are kept)."""
    text = unicodedata.normalize("NFKC", name).strip().lower()
    text = re.sub(r"[^\w.-]+", "-", text).strip("-.")
    return text[:80].rstrip("-.") or "template"


def normalise_key(key: str) -> str:
    """``collection/sub/name`` with forward slashes, no suffix; refuses paths leaving the folder."""
    clean = key.strip().replace("\\", "/").strip("/")
    if clean.endswith(SUFFIX):
        clean = clean[: -len(SUFFIX)]
    parts = clean.split("/")
    if not clean or any(
        p in ("", ".", "..") or p.startswith(".") or not _SEGMENT.match(p) for p in parts
    ):
        raise KnownError(
            f"'{key}' is not a valid library name",
            hint="use letters, digits and dashes, with '/' between collections",
        )
    return clean


def collection_of(key: str) -> str:
    return key.rpartition("/")[0]


@dataclass(frozen=True)
class TemplateVersion:
    id: str
    key: str
    number: int
    created_at: str
    message: str
    origin: str  # save | disk | import | restore
    content_hash: str
    text: str

    def template(self) -> PromptTemplate:
        return loads(self.text, f"{self.key} v{self.number}")


@dataclass(frozen=True)
class LibraryEntry:
    key: str
    name: str
    collection: str
    tags: tuple[str, ...]
    version: int
    updated_at: str
    deleted: bool = False
    snippet: str | None = None


@dataclass
class RescanReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    renamed: list[tuple[str, str]] = field(default_factory=list)
    problems: list[TemplateFileError] = field(default_factory=list)
    # Problem files that had a good version before (path -> its number): it stays current.
    kept: dict[str, int] = field(default_factory=dict)

    def problem_lines(self) -> list[str]:
        """Each unreadable file once, saying truthfully what the library holds for it."""
        lines: dict[str, None] = {}
        for problem in self.problems:
            kept = self.kept.get(problem.path)
            outcome = (
                f"its last good version, v{kept}, stays current"
                if kept is not None
                else "it is left out of the library until it is fixed"
            )
            lines[f"{problem} ({outcome})"] = None
        return list(lines)


@dataclass
class Row:
    seq: int
    id: str
    key: str
    deleted: bool
    mtime_ns: int | None
    size: int | None
    head_number: int
    head_hash: str | None


@dataclass
class Disk:
    data: bytes
    mtime_ns: int
    size: int

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def read_disk(path: Path) -> Disk | None:
    try:
        with open(path, "rb") as handle:
            stat = os.fstat(handle.fileno())
            return Disk(handle.read(), stat.st_mtime_ns, stat.st_size)
    except FileNotFoundError:
        return None
    except OSError as err:
        raise TemplateFileError(str(path), err.strerror or str(err)) from None


def parse_disk(path: Path, disk: Disk) -> TemplateFile:
    try:
        text = disk.data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise TemplateFileError(str(path), f"not UTF-8 text ({err.reason})") from None
    return TemplateFile(path, loads(text, str(path)), text)
