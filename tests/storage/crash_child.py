"""The process the kill -9 test kills: it writes runs and library versions as fast as it can and
prints each one only after it is committed, then is killed at a random moment.

Run as ``python -m tests.storage.crash_child HOME SEED``. With a third argument ``save`` or
``import`` it instead dies by SIGKILL right after a file was renamed into place and before the
version was committed: the narrowest window of a library write, hit deterministically.

The modes below use the app's own layout (``WORKBENCH_HOME``): ``import-many`` saves three
templates, then imports 740 (the test kills it while their temporaries are being staged);
``save-unrenamed`` dies by SIGKILL with a save's temporary written but not yet renamed; ``hold``
stages a temporary, waits for a line on stdin, then puts it in place (a live writer).
"""

from __future__ import annotations

import os
import random
import signal
import sys
from pathlib import Path

from tests.storage.factories import make_result, make_template
from workbench.storage import files
from workbench.storage.db import Database
from workbench.storage.library import Library
from workbench.storage.repositories import Store
from workbench.storage.writer import StoreWriter

WORDS = [
    "river",
    "mountain",
    "ticket",
    "refund",
    "printer",
    "volcano",
    "answer",
    "summary",
    "careful",
    "brief",
    "capital",
    "city",
    "ocean",
    "tide",
    "poem",
    "haiku",
    "model",
    "prompt",
]


def main(home: Path, seed: int) -> None:
    rng = random.Random(seed)
    db = Database(home / "crash.db")
    store = Store(db)
    library = Library(db, home / "library")
    writer = StoreWriter(store)
    print("ready", flush=True)
    step = 0
    while True:
        step += 1
        tag = f"s{seed}n{step}"
        roll = rng.random()
        if roll < 0.5:
            words = " ".join(rng.choices(WORDS, k=rng.randint(5, 4000)))
            result = make_result(f"{tag} {words}?", f"{tag} answer {words}")
            run_id = (
                writer.add_run(result).result() if rng.random() < 0.5 else store.runs.add(result)
            )
            print(f"run {run_id}", flush=True)
        elif roll < 0.85:
            key = f"c{rng.randint(0, 2)}/t{rng.randint(0, 5)}"
            body = " ".join(rng.choices(WORDS, k=rng.randint(5, 30000)))  # up to ~200 KB files
            version = library.save(
                make_template(key, description=f"{tag} {body}"), key=key, message=tag
            )
            print(f"version {version.key} {version.number} {version.content_hash}", flush=True)
        else:
            batch = [
                make_template(f"import {rng.randint(0, 4)}", description=f"{tag} {i}")
                for i in range(3)
            ]
            for version, _changed in library.import_templates(batch, collection="imported"):
                print(f"version {version.key} {version.number} {version.content_hash}", flush=True)


def die_after_rename(home: Path, what: str) -> None:
    library = Library(Database(home / "crash.db"), home / "library")
    library.save(make_template("kept"), key="window/kept", message="committed")
    print("committed", flush=True)
    real_commit = files.PreparedWrite.commit
    renames = 0

    def commit_then_die(self: files.PreparedWrite, *, sync_folder: bool = True) -> None:
        nonlocal renames
        real_commit(self, sync_folder=sync_folder)
        renames += 1
        if renames == 2 or what == "save":
            os.kill(os.getpid(), signal.SIGKILL)

    files.PreparedWrite.commit = commit_then_die  # type: ignore[method-assign]
    if what == "save":
        library.save(make_template("kept", description="saved, never committed"), key="window/kept")
    else:
        batch = [make_template("first"), make_template("second"), make_template("third")]
        library.import_templates(batch, collection="window")


def app_layout(mode: str) -> None:
    library = Library(Database())  # WORKBENCH_HOME's database and library folder
    if mode == "hold":
        staged = files.prepare(library.path_for("live/held"), b"staged by a live process")
        print(f"staged {staged.temp}", flush=True)
        sys.stdin.readline()
        staged.commit()
        print("committed", flush=True)
        return
    for n in range(3):
        version = library.save(make_template(f"kept {n}"), key=f"kept/t{n}", message="kept")
        print(f"version {version.key} {version.number} {version.content_hash}", flush=True)
    if mode == "save-unrenamed":

        def die_before_rename(self: files.PreparedWrite) -> None:
            os.kill(os.getpid(), signal.SIGKILL)

        files.PreparedWrite.commit = die_before_rename  # type: ignore[method-assign]
        library.save(make_template("kept 0", description="never in place"), key="kept/t0")
        return
    batch = [make_template(f"bulk {i}", description="x" * 2000) for i in range(740)]
    print("importing", flush=True)
    library.import_templates(batch, collection="bulk")
    print("imported", flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "app":
        app_layout(sys.argv[2])
    elif len(sys.argv) > 3:
        die_after_rename(Path(sys.argv[1]), sys.argv[3])
    else:
        main(Path(sys.argv[1]), int(sys.argv[2]))
