"""The prompt library: a folder of ``.prompt.yaml`` files with their history in SQLite.

The files are the source of truth (people edit them, keep them under git, copy them around); the
database remembers every version ever seen, labels and a full-text index. Every save, import and
restore writes the file atomically and records an immutable version; ``rescan`` records what changed
on disk behind the app's back (edits, new files, deletions, renames) as versions too.

Writes happen inside a database write transaction, which also serialises library writers across
processes: the file is put in place first and the version committed after, so a crash between the
two leaves a file that the next ``rescan`` records ("changed on disk"); nothing is lost.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from workbench.core.errors import KnownError, TemplateFileError
from workbench.core.models import PromptTemplate
from workbench.core.template_files import SUFFIX, TemplateFile, dumps, loads, with_images
from workbench.storage import files
from workbench.storage.db import Database, NotFoundError
from workbench.storage.ids import new_id, now_iso
from workbench.storage.images import store_images
from workbench.storage.library_queries import LibraryQueries
from workbench.storage.library_records import (
    RESERVED_LABELS,
    Disk,
    LibraryEntry,
    RescanReport,
    Row,
    TemplateVersion,
    VersionRef,
    collection_of,
    content_hash,
    default_folder,
    normalise_key,
    parse_disk,
    read_disk,
    slug,
)
from workbench.storage.library_sql import (
    ROW_SQL,
    VERSION_COLUMNS,
)
from workbench.storage.migrations import template_search_row
from workbench.storage.version_diff import TextDiff, diff_texts

__all__ = ["Library", "LibraryEntry", "RescanReport", "TemplateVersion", "VersionRef"]


class Library(LibraryQueries):
    """A library folder and its history. Share one per process; it is safe across threads."""

    def __init__(self, db: Database, folder: Path | None = None) -> None:
        self.db = db
        self.folder = Path(folder) if folder is not None else default_folder()

    # ---- paths and rows

    def path_for(self, key: str) -> Path:
        return self.folder / f"{normalise_key(key)}{SUFFIX}"

    def key_for(self, template: PromptTemplate, collection: str = "") -> str:
        name = slug(template.name)
        return normalise_key(f"{collection.strip('/')}/{name}" if collection.strip("/") else name)

    def unused_key(self, name: str, collection: str = "") -> str:
        """The key a new template named ``name`` takes: never another template's, deleted ones
        included (a new template must not inherit someone else's history)."""
        conn = self.db.connection()
        return self._free_key(conn, self.key_for(PromptTemplate(name=name), collection), None)

    def _free_key(self, conn: sqlite3.Connection, base: str, keep: str | None) -> str:
        key, n = base, 2
        while key != keep and self._row(conn, key) is not None:
            key, n = f"{base}-{n}", n + 1
        return key

    def _row(self, conn: sqlite3.Connection, key: str) -> Row | None:
        found = conn.execute(f"{ROW_SQL} WHERE t.key = ?", (key,)).fetchone()
        return Row(*found) if found else None

    def _require(self, conn: sqlite3.Connection, key: str) -> Row:
        row = self._row(conn, normalise_key(key))
        if row is None:
            raise NotFoundError(f"no template '{key}' in the library")
        return row

    # ---- recording versions

    def _record(
        self,
        conn: sqlite3.Connection,
        row: Row | None,
        key: str,
        text: str,
        template: PromptTemplate,
        origin: str,
        message: str,
    ) -> TemplateVersion:
        """A new immutable version of ``key``; updates name, tags and the search index."""
        now = now_iso()
        if row is None:
            template_id = new_id()
            cursor = conn.execute(
                "INSERT INTO library_templates (id, key, collection, name, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (template_id, key, collection_of(key), template.name, now),
            )
            seq, number = int(cursor.lastrowid or 0), 1
        else:
            template_id, seq, number = row.id, row.seq, row.head_number + 1
        version = TemplateVersion(
            new_id(), key, number, now, message, origin, content_hash(text), text
        )
        conn.execute(
            "INSERT INTO template_versions (id, template_id, number, created_at, message, origin,"
            " content_hash, text) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (version.id, template_id, number, now, message, origin, version.content_hash, text),
        )
        conn.execute(
            "UPDATE library_templates SET name = ?, collection = ?, deleted_at = NULL"
            " WHERE seq = ?",
            (template.name, collection_of(key), seq),
        )
        conn.execute("DELETE FROM template_tags WHERE template_id = ?", (template_id,))
        conn.executemany(
            "INSERT OR IGNORE INTO template_tags (template_id, tag) VALUES (?, ?)",
            [(template_id, tag) for tag in template.tags],
        )
        self._index(conn, seq, template)
        return version

    @staticmethod
    def _index(conn: sqlite3.Connection, seq: int, template: PromptTemplate) -> None:
        conn.execute("DELETE FROM library_fts WHERE rowid = ?", (seq,))
        conn.execute(
            "INSERT INTO library_fts (rowid, name, description, tags, body) VALUES (?, ?, ?, ?, ?)",
            (seq, *template_search_row(template)),
        )

    @staticmethod
    def _set_stat(conn: sqlite3.Connection, key: str, path: Path) -> None:
        stat = path.stat()
        conn.execute(
            "UPDATE library_templates SET file_mtime_ns = ?, file_size = ?, file_hash ="
            " (SELECT v.content_hash FROM template_versions v WHERE v.template_id ="
            " library_templates.id ORDER BY v.number DESC LIMIT 1) WHERE key = ?",
            (stat.st_mtime_ns, stat.st_size, key),
        )

    def _sync(
        self, conn: sqlite3.Connection, key: str
    ) -> tuple[Row | None, TemplateFile | None, Disk | None]:
        """Record the file on disk first if it differs from the last version (so a save or an
        import over it never loses an edit made outside the app)."""
        path = self.path_for(key)
        row = self._row(conn, key)
        disk = read_disk(path)
        if disk is None:
            return row, None, None
        current = parse_disk(path, disk)
        if self._absorb(conn, row, key, current, disk) is not None:
            row = self._row(conn, key)
        return row, current, disk

    def _absorb(
        self,
        conn: sqlite3.Connection,
        row: Row | None,
        key: str,
        current: TemplateFile,
        disk: Disk,
    ) -> str | None:
        """Bring the database in line with a file read from disk; says what that changed."""
        outcome: str | None = None
        if row is not None and disk.hash == row.head_hash:
            if row.deleted:  # the last version came back (git checkout, undo in a file manager)
                conn.execute(
                    "UPDATE library_templates SET deleted_at = NULL WHERE seq = ?", (row.seq,)
                )
                self._index(conn, row.seq, current.template)
                outcome = "restored"
        else:
            message = (
                "added on disk"
                if row is None
                else "restored on disk"
                if row.deleted
                else "changed on disk"
            )
            self._record(conn, row, key, current.source, current.template, "disk", message)
            outcome = "added" if row is None else "changed"
        self._set_stat(conn, key, current.path)
        return outcome

    def _head(self, conn: sqlite3.Connection, key: str) -> TemplateVersion:
        return self._version(conn, key, None)

    # ---- writing

    def save(
        self,
        template: PromptTemplate,
        *,
        key: str | None = None,
        collection: str = "",
        message: str = "",
    ) -> TemplateVersion:
        """Write ``template`` to its file and record a version (none if nothing changed)."""
        key = normalise_key(key) if key else self.key_for(template, collection)
        template = store_images(template, self.path_for(key))  # the files before their names
        with self.db.transaction() as conn:
            return self._put(conn, key, template, None, "save", message)

    def _put(
        self,
        conn: sqlite3.Connection,
        key: str,
        template: PromptTemplate | None,
        text: str | None,
        origin: str,
        message: str,
    ) -> TemplateVersion:
        row, current, _ = self._sync(conn, key)
        if text is None:
            assert template is not None
            text = current.text_for(template) if current else dumps(template)
        if template is None:
            template = loads(text, key)
        if current is not None and text == current.source:
            return self._head(conn, key)
        path = self.path_for(key)
        files.write_text(path, text)
        version = self._record(conn, row, key, text, template, origin, message)
        self._set_stat(conn, key, path)
        return version

    def restore(self, key: str, ref: VersionRef, message: str | None = None) -> TemplateVersion:
        """Make an old version current again, as a new version (history is never rewritten)."""
        key = normalise_key(key)
        with self.db.transaction() as conn:
            old = self._version(conn, key, ref)
            return self._put(
                conn, key, None, old.text, "restore", message or f"restored v{old.number}"
            )

    def delete(self, key: str) -> None:
        """Remove the file; the history stays and ``restore`` brings it back."""
        key = normalise_key(key)
        with self.db.transaction() as conn:
            self._require(conn, key)
            row, _, _ = self._sync(conn, key)
            assert row is not None
            files.remove(self.path_for(key))
            self._mark_deleted(conn, row)

    def undelete(self, key: str) -> TemplateVersion:
        """Undo ``delete``: the newest version's file comes back, with no new version."""
        key = normalise_key(key)
        with self.db.transaction() as conn:
            head = self._head(conn, key)
            path = self.path_for(key)
            if read_disk(path) is None:
                files.write_text(path, head.text)
            self._sync(conn, key)
            return head

    def rename(self, key: str, name: str) -> TemplateVersion:
        """Rename a template: a new version with the new name, its file moved to the key the
        name gives (in the same collection). History, labels and the runs made with it follow."""
        key, name = normalise_key(key), name.strip()
        if not name:
            raise KnownError("a template needs a name")
        with self.db.transaction() as conn:
            row, current, _ = self._sync(conn, key)
            if row is None or row.deleted:
                raise NotFoundError(f"no template '{key}' in the library")
            head = self._head(conn, key)
            old = head.template()
            template = old.model_copy(update={"name": name})
            new_key = self._free_key(conn, self.key_for(template, collection_of(key)), key)
            text = current.text_for(template) if current else dumps(template)
            path = self.path_for(new_key)
            files.write_text(path, text)
            if new_key != key:
                conn.execute("UPDATE library_templates SET key = ? WHERE seq = ?",
                             (new_key, row.seq))
                conn.execute("UPDATE runs SET template_key = ? WHERE template_key = ?",
                             (new_key, key))
                files.remove(self.path_for(key))
            message = f"renamed from “{old.name}”"
            version = self._record(conn, self._row(conn, new_key), new_key, text, template, "save",
                                   message)
            self._set_stat(conn, new_key, path)
            return version

    @staticmethod
    def _mark_deleted(conn: sqlite3.Connection, row: Row) -> None:
        conn.execute(
            "UPDATE library_templates SET deleted_at = ?, file_mtime_ns = NULL, file_size = NULL,"
            " file_hash = NULL WHERE seq = ?",
            (now_iso(), row.seq),
        )
        conn.execute("DELETE FROM library_fts WHERE rowid = ?", (row.seq,))

    def import_templates(
        self,
        templates: Sequence[PromptTemplate],
        *,
        collection: str = "",
        message: str = "imported",
        keys: Sequence[str | None] = (),
    ) -> list[tuple[TemplateVersion, bool]]:
        """Add templates as new versions, all or nothing: ``(version, changed)`` per template.

        ``keys`` (optional, one per template) puts a template at its own key (a bundle's library
        structure); a template without one goes to ``collection`` under its name.

        Every file is staged (written beside its target, then the batch synced to disk at once)
        before any is put in place, and the versions are committed in the same transaction; if
        anything fails, the library's files and history are exactly as before. A crash part-way
        leaves whole files only, which the next ``rescan`` records.
        """
        staged: list[files.PreparedWrite] = []
        previous: dict[Path, bytes | None] = {}
        with self.db.transaction() as conn:
            try:
                results = self._stage_imports(
                    conn, templates, collection, message, keys, staged, previous
                )
                files.sync_staged(staged)  # every file's data on disk before any rename
                for write in staged:
                    write.commit(sync_folder=False)
                for folder in dict.fromkeys(write.path.parent for write in staged):
                    files.fsync_dir(folder)  # once per folder, not once per file
                for write in staged:
                    self._set_stat(conn, self._key_of(write.path), write.path)
            except BaseException:
                for write in staged:
                    write.discard()
                self._undo(staged, previous)
                raise
        return results

    def _stage_imports(
        self,
        conn: sqlite3.Connection,
        templates: Sequence[PromptTemplate],
        collection: str,
        message: str,
        keys: Sequence[str | None],
        staged: list[files.PreparedWrite],
        previous: dict[Path, bytes | None],
    ) -> list[tuple[TemplateVersion, bool]]:
        results: list[tuple[TemplateVersion, bool]] = []
        used: set[str] = set()
        for i, template in enumerate(templates):
            given = keys[i] if i < len(keys) else None
            key = base = normalise_key(given) if given else self.key_for(template, collection)
            n = 1
            while key in used:
                n += 1
                key = f"{base}-{n}"
            used.add(key)
            row, current, disk = self._sync(conn, key)
            text = current.text_for(template) if current else dumps(template)
            if current is not None and text == current.source:
                results.append((self._head(conn, key), False))
                continue
            path = self.path_for(key)
            previous[path] = disk.data if disk else None
            staged.append(files.prepare(path, text.encode("utf-8"), sync=False))
            results.append((self._record(conn, row, key, text, template, "import", message), True))
        return results

    @staticmethod
    def _undo(staged: list[files.PreparedWrite], previous: dict[Path, bytes | None]) -> None:
        """Put back the files an import had already replaced."""
        for write in staged:
            if write.done:
                before = previous.get(write.path)
                if before is None:
                    files.remove(write.path)
                else:
                    files.write_bytes(write.path, before)

    def _key_of(self, path: Path) -> str:
        relative = path.relative_to(self.folder).as_posix()
        return relative[: -len(SUFFIX)]

    # ---- labels

    def set_label(self, key: str, label: str, ref: VersionRef) -> TemplateVersion:
        """Point ``label`` (e.g. "production") at a version; a label moves when set again."""
        label = label.strip()
        if (
            not label
            or any(c.isspace() for c in label)
            or label.lower() in RESERVED_LABELS
            or re.fullmatch(r"v?\d+", label)
        ):
            raise KnownError(
                f"'{label}' cannot be a label", hint="use a word such as production or staging"
            )
        key = normalise_key(key)
        with self.db.transaction() as conn:
            version = self._version(conn, key, ref)
            conn.execute(
                "INSERT INTO template_labels (template_id, label, version_id, updated_at)"
                " SELECT template_id, ?, id, ? FROM template_versions WHERE id = ?"
                " ON CONFLICT (template_id, label) DO UPDATE SET version_id = excluded.version_id,"
                " updated_at = excluded.updated_at",
                (label, now_iso(), version.id),
            )
        return version

    def remove_label(self, key: str, label: str) -> None:
        with self.db.transaction() as conn:
            row = self._require(conn, key)
            if not conn.execute(
                "DELETE FROM template_labels WHERE template_id = ? AND label = ?", (row.id, label)
            ).rowcount:
                raise NotFoundError(f"'{key}' has no label '{label}'")

    def labels(self, key: str) -> dict[str, int]:
        """Label -> version number."""
        conn = self.db.connection()
        row = self._require(conn, key)
        return dict(
            conn.execute(
                "SELECT l.label, v.number FROM template_labels l JOIN template_versions v"
                " ON v.id = l.version_id WHERE l.template_id = ? ORDER BY l.label",
                (row.id,),
            ).fetchall()
        )

    # ---- reading

    def _version(self, conn: sqlite3.Connection, key: str, ref: VersionRef) -> TemplateVersion:
        row = self._require(conn, key)
        base = (
            f"SELECT {VERSION_COLUMNS} FROM template_versions v JOIN library_templates t"
            " ON t.id = v.template_id WHERE v.template_id = ?"
        )
        text = str(ref).strip() if ref is not None else "head"
        if isinstance(ref, int) or re.fullmatch(r"v?\d+", text):
            number = ref if isinstance(ref, int) else int(text.lstrip("v"))
            found = conn.execute(f"{base} AND v.number = ?", (row.id, number)).fetchone()
        elif text.lower() in RESERVED_LABELS:
            found = conn.execute(f"{base} ORDER BY v.number DESC LIMIT 1", (row.id,)).fetchone()
        else:
            found = conn.execute(
                f"{base} AND v.id = (SELECT version_id FROM template_labels WHERE template_id = ?"
                " AND label = ?)",
                (row.id, row.id, text),
            ).fetchone()
        if found is None:
            raise NotFoundError(f"'{key}' has no version or label '{text}'")
        return TemplateVersion(*found)

    def version(self, key: str, ref: VersionRef = None) -> TemplateVersion:
        return self._version(self.db.connection(), normalise_key(key), ref)

    def load(self, key: str, ref: VersionRef = None) -> PromptTemplate:
        """A version's template with its images' bytes read from beside its file."""
        found = self.version(key, ref)
        return with_images(found.template(), self.path_for(key).parent, f"{key} v{found.number}")

    def open_file(self, key: str) -> TemplateFile:
        """The file as it is on disk now (what an editor opens, keeping its exact text)."""
        return TemplateFile.read(self.path_for(key))

    def versions(self, key: str) -> list[TemplateVersion]:
        """Oldest first."""
        conn = self.db.connection()
        row = self._require(conn, key)
        rows = conn.execute(
            f"SELECT {VERSION_COLUMNS} FROM template_versions v JOIN library_templates t"
            " ON t.id = v.template_id WHERE v.template_id = ? ORDER BY v.number",
            (row.id,),
        ).fetchall()
        return [TemplateVersion(*r) for r in rows]

    def diff(self, key: str, old: VersionRef, new: VersionRef = None) -> TextDiff:
        a = self.version(key, old)
        b = self.version(key, new)
        return diff_texts(a.text, b.text, f"{a.key} v{a.number}", f"{b.key} v{b.number}")

    # ---- picking up changes made on disk

    def clean_temp_files(self) -> int:
        """Remove the temporaries a killed save or import left in the folder (the app does at
        start, every command that opens the library through ``rescan``); a live writer's are
        kept. Returns how many were removed."""
        return len(files.clean_temp_files(self.folder))

    def rescan(self) -> RescanReport:
        """Record every change made to the folder outside the app as versions.

        Unchanged files are recognised by size and modification time without being read. A file
        that does not parse is reported (with its line) and left for the user to fix; its last good
        version stays current. Files moved unchanged keep their history.
        """
        report = RescanReport()
        with self.db.transaction() as conn:
            self.clean_temp_files()
            known = {r.key: r for r in (Row(*f) for f in conn.execute(ROW_SQL).fetchall())}
            added: dict[str, tuple[TemplateFile, Disk]] = {}
            seen: set[str] = set()
            for path in self._files():
                key = self._key_of(path)
                seen.add(key)
                row = known.get(key)
                try:
                    self._scan_file(conn, key, path, row, added, report)
                except TemplateFileError as err:
                    report.problems.append(err)
                    if row is not None and not row.deleted:
                        report.kept[err.path] = self._head(conn, key).number
            missing = {k: r for k, r in known.items() if k not in seen and not r.deleted}
            by_hash = {r.head_hash: r for r in missing.values()}
            for key, (current, disk) in sorted(added.items()):
                moved = by_hash.pop(disk.hash, None)
                if moved is not None and moved.key in missing:
                    del missing[moved.key]
                    conn.execute(
                        "UPDATE library_templates SET key = ?, collection = ?, name = ?"
                        " WHERE seq = ?",
                        (key, collection_of(key), current.template.name, moved.seq),
                    )
                    report.renamed.append((moved.key, key))
                else:
                    self._record(
                        conn, None, key, current.source, current.template, "disk", "added on disk"
                    )
                    report.added.append(key)
                self._set_stat(conn, key, current.path)
            for key, row in sorted(missing.items()):
                self._mark_deleted(conn, row)
                report.removed.append(key)
        return report

    def _scan_file(
        self,
        conn: sqlite3.Connection,
        key: str,
        path: Path,
        row: Row | None,
        added: dict[str, tuple[TemplateFile, Disk]],
        report: RescanReport,
    ) -> None:
        if row is not None and not row.deleted:
            stat = path.stat()
            if (stat.st_mtime_ns, stat.st_size) == (row.mtime_ns, row.size):
                return
        disk = read_disk(path)
        if disk is None:
            return
        if row is not None and not row.deleted and disk.hash == row.head_hash:
            self._set_stat(conn, key, path)  # touched, not changed
            return
        current = parse_disk(path, disk)
        if row is None:
            added[key] = (current, disk)  # a new file, or one moved here: decided after the walk
        elif self._absorb(conn, row, key, current, disk) is not None:
            report.changed.append(key)

    def _files(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        found = []
        for root, dirs, names in os.walk(self.folder):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))  # .git, editor folders
            for name in sorted(names):
                if name.endswith(SUFFIX) and not name.startswith("."):
                    path = Path(root) / name
                    try:
                        normalise_key(self._key_of(path))
                    except KnownError:
                        continue
                    found.append(path)
        return found
