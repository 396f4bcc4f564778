"""Everything a session of the app works with, opened once: the store, the prompt library, the
writer thread, the runner and the autosaves.

The desktop app is a view over a ``Workspace``; nothing in it knows about Qt, so the same
workspace serves scripts and tests.
"""

from __future__ import annotations

from workbench.core.paths import builtin_templates_dir, config_dir
from workbench.core.template_files import SUFFIX, read_template
from workbench.services.group_commit import GroupCommitWriter
from workbench.services.runner import Runner
from workbench.storage import files
from workbench.storage.autosave import Autosave
from workbench.storage.db import Database
from workbench.storage.library import Library
from workbench.storage.repositories import Store

WELCOME_KEY = "welcome"


class Workspace:
    """The open data of one user (``WORKBENCH_HOME`` or the platform's folders)."""

    def __init__(self) -> None:
        self.db = Database()
        self.store = Store(self.db)
        self.library = Library(self.db)
        self.autosave = Autosave()
        # Temporaries a save, import or settings write killed in an earlier session left.
        self.library.clean_temp_files()
        for folder in (self.autosave.folder, config_dir()):
            files.clean_temp_files(folder)
        # Runs that finish together share one disk flush (sweeps, repeats, compare columns).
        self.writer = GroupCommitWriter(self.store)
        self.runner = Runner(writer=self.writer)

    def is_first_start(self) -> bool:
        """Nothing in the library and no run yet."""
        return not self.library.entries(include_deleted=True) and self.store.runs.count() == 0

    def install_welcome(self) -> str:
        """Put the built-in welcome template in the library; returns its key."""
        welcome = read_template(builtin_templates_dir() / f"welcome{SUFFIX}")
        self.library.save(welcome, key=WELCOME_KEY, message="welcome template")
        return WELCOME_KEY

    def close(self) -> None:
        """Close backends (unloading local models), finish pending writes, close the database."""
        self.runner.close()
        self.writer.close()
        self.db.close()
