"""Autosave of unsaved editor buffers, offered back after a crash.

The editor saves a draft every few seconds while a buffer has unsaved changes and discards it when
the user saves or reverts. Drafts still present when the app starts are what a crash (or a power
cut) left behind: ``drafts()`` lists them so the app can offer each one back. A draft is one small
JSON file written atomically, so a crash while autosaving leaves the previous draft intact.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from workbench.core.paths import data_dir
from workbench.storage import files

_SUFFIX = ".draft.json"


def default_folder() -> Path:
    return data_dir() / "autosave"


@dataclass(frozen=True)
class Draft:
    key: str  # what the buffer edits: a library key, a file path, "untitled-3"
    text: str
    saved_at: str
    base_hash: str | None  # sha256 of the saved text the edits started from, if any

    def is_stale(self, saved_text: str | None) -> bool:
        """True when the saved text already equals the draft: nothing to offer back."""
        return saved_text is not None and saved_text == self.text

    def base_changed(self, saved_text: str | None) -> bool:
        """True when the saved text changed since the edits began (offer a comparison)."""
        if self.base_hash is None or saved_text is None:
            return False
        return hashlib.sha256(saved_text.encode("utf-8")).hexdigest() != self.base_hash


class Autosave:
    def __init__(self, folder: Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else default_folder()

    def _path(self, key: str) -> Path:
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
        return self.folder / f"{digest}{_SUFFIX}"

    def save(self, key: str, text: str, base_text: str | None = None) -> Draft:
        """Keep ``text`` as the draft of ``key`` (replacing the previous draft)."""
        base_hash = (
            hashlib.sha256(base_text.encode("utf-8")).hexdigest() if base_text is not None else None
        )
        # Microseconds: drafts saved within one millisecond still list in the order they were made.
        saved_at = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        draft = Draft(key, text, saved_at, base_hash)
        data = {"key": key, "text": text, "saved_at": draft.saved_at, "base_hash": base_hash}
        files.write_text(self._path(key), json.dumps(data, ensure_ascii=False))
        return draft

    def load(self, key: str) -> Draft | None:
        return self._read(self._path(key))

    def discard(self, key: str) -> None:
        """Forget the draft of ``key`` (after a save, a revert, or when the user declines it)."""
        files.remove(self._path(key))

    def drafts(self) -> list[Draft]:
        """Every draft on disk, oldest first; unreadable leftovers are skipped."""
        if not self.folder.is_dir():
            return []
        found = [d for p in self.folder.glob(f"*{_SUFFIX}") if (d := self._read(p)) is not None]
        return sorted(found, key=lambda d: (d.saved_at, d.key))

    @staticmethod
    def _read(path: Path) -> Draft | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return Draft(
                str(data["key"]), str(data["text"]), str(data["saved_at"]), data.get("base_hash")
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            return None  # a file someone else put here; never a half-written draft of ours
