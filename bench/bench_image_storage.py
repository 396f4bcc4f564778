"""Images stored once: the database size of a 50-run sweep over one 200 KB image, with the
image inline in every run (as before migration ``0016_image_blobs``) and stored once by hash.

The sweep goes through the real stack: ``GridRunner`` -> ``Runner`` -> the ``scripted`` backend
(which records the request's images, like a vision backend) -> a ``StoreWriter`` committing each
run to a SQLite file: five temperatures × ten repeats, the image in the template's user message.
"Inline" writes the same sweep into a database at schema ``0015_batch_jobs`` with
``storage.image_blobs`` bypassed, byte for byte what the app wrote before. Then that database is
opened by this app (the migration moves its images into blobs) and compacted with VACUUM.

Reported: each file's size after a WAL checkpoint, the ratio, the blobs kept, and the median time
to read one run back (history restore) from each. Run: ``python bench/run.py image_storage``.
"""

from __future__ import annotations

import contextlib
import random
import statistics
import struct
import tempfile
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

from workbench.backends.config import BackendConfig
from workbench.core.experiments import ExperimentSpec, TestCase, Variant
from workbench.core.images import ImagePart
from workbench.core.models import Message, Params, PromptTemplate
from workbench.services.grid_runner import GridRunner
from workbench.services.runner import Runner
from workbench.storage import image_blobs
from workbench.storage.db import Database
from workbench.storage.repositories import Store
from workbench.storage.writer import StoreWriter

IMAGE_BYTES = 200 * 1024
TEMPERATURES = (0.0, 0.3, 0.6, 0.9, 1.2)
REPEATS = 10
BEFORE = "0015_batch_jobs"
CONFIGS = {
    "vision": BackendConfig(
        name="vision", backend="scripted", options={"script": [{"text": "A harbour at dusk."}]}
    )
}


def photo(size: int = IMAGE_BYTES) -> bytes:
    """A real PNG of about ``size`` bytes: random RGB pixels, which deflate cannot shrink (so the
    file is as large as a photo of that size would be)."""
    side = int((size / 3) ** 0.5)
    rng = random.Random(7)
    rows = b"".join(b"\x00" + rng.randbytes(side * 3) for _ in range(side))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


def sweep_spec(image: ImagePart) -> ExperimentSpec:
    template = PromptTemplate(name="caption", messages=[
        Message(role="user", content="Caption this photo in one line.", images=[image])])
    return ExperimentSpec(
        name="Caption temperatures",
        variants=[Variant(label=f"t={t}", template=template, backend="vision",
                          params=Params(temperature=t)) for t in TEMPERATURES],
        tests=[TestCase(description="harbour")],
        repeats=REPEATS,
    )


@contextlib.contextmanager
def images_inline() -> Iterator[None]:
    """Write requests and templates with their images inline, as the app did before blobs."""
    with (
        mock.patch.object(image_blobs, "dump", lambda _c, m, **o: (m.model_dump_json(**o), [])),
        mock.patch.object(image_blobs, "link", lambda *_a: None),
        mock.patch.object(image_blobs, "relink", lambda *_a: None),
    ):
        yield


def run_sweep(store: Store, spec: ExperimentSpec) -> list[str]:
    experiment = store.experiments.create(spec, "sweep")
    with StoreWriter(store) as writer:
        runner = Runner(writer=writer, configs=CONFIGS)
        try:
            GridRunner(runner, store).run(experiment)
        finally:
            runner.close()
    return [r[0] for r in store.db.connection().execute("SELECT id FROM runs")]


def file_size(db: Database) -> int:
    db.connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return db.path.stat().st_size


def read_ms(store: Store, run_ids: list[str]) -> float:
    """Median milliseconds to read one run whole (what restoring it from history does)."""
    times = []
    for run_id in run_ids:
        started = time.perf_counter()
        store.runs.get(run_id)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def blob_count(db: Database) -> int:
    return int(db.connection().execute("SELECT count(*) FROM image_blobs").fetchone()[0])


def main() -> None:
    raw = photo()
    image = ImagePart.from_bytes(raw)
    spec = sweep_spec(image)
    runs = len(TEMPERATURES) * REPEATS
    print(f"sweep: {runs} runs, one {len(raw) / 1024:.0f} KB PNG in the template")
    with tempfile.TemporaryDirectory() as folder:
        inline_db = Database(Path(folder) / "inline.db", upto=BEFORE)
        with images_inline():
            inline_ids = run_sweep(Store(inline_db), spec)
        inline = file_size(inline_db)
        inline_read = read_ms(Store(inline_db), inline_ids)
        inline_db.close()

        blob_db = Database(Path(folder) / "blobs.db")
        blob_store = Store(blob_db)
        blob_ids = run_sweep(blob_store, spec)
        stored = file_size(blob_db)
        assert all(blob_store.runs.get(i).result.request.messages[0].images == [image]
                   for i in blob_ids)
        blob_read = read_ms(blob_store, blob_ids)
        print(f"images inline (schema {BEFORE}): {inline / 1e6:7.2f} MB"
              f"  ({inline / runs / 1024:.0f} KB per run), read a run: {inline_read:.2f} ms")
        print(f"images stored once (now):       {stored / 1e6:7.2f} MB"
              f"  ({stored / runs / 1024:.0f} KB per run), read a run: {blob_read:.2f} ms;"
              f" {blob_count(blob_db)} blob")
        print(f"ratio: {stored / inline:.3f} of the inline size ({inline / stored:.1f}x smaller)")
        blob_store.experiments.delete(blob_store.experiments.summaries()[0].id)
        print(f"after deleting the sweep: {blob_count(blob_db)} blobs")
        blob_db.close()

        started = time.perf_counter()
        migrated = Database(Path(folder) / "inline.db")
        took = time.perf_counter() - started
        before_vacuum = file_size(migrated)
        migrated.connection().execute("VACUUM")
        print(f"inline database migrated in {took:.2f} s: {blob_count(migrated)} blob,"
              f" {before_vacuum / 1e6:.2f} MB (freed pages kept for reuse),"
              f" {file_size(migrated) / 1e6:.2f} MB after VACUUM")
        migrated.close()


if __name__ == "__main__":
    main()
