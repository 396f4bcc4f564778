"""Landing a provider batch's results: answers stored as runs of their cells, one transaction
per answer (``BatchJobRepository.land``) against ``land_many``'s transaction per 256.

A results file holds up to 50,000 (OpenAI) or 100,000 (Anthropic) lines, each stored as a run and
marked on its cell. Measured on a SQLite file in a temporary folder (WAL, as the app opens it),
with realistic runs (``tests/storage/factories``): the same number of answers landed both ways
into fresh jobs of one experiment. Run: ``python bench/run.py batch_land``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/storage/factories, run as a script too

from tests.storage.factories import make_request, make_result, make_spec  # noqa: E402
from workbench.storage.repositories import RunRef, Store  # noqa: E402
from workbench.storage.repositories.batch_jobs import NewBatchCell  # noqa: E402

ANSWERS = 3000


def _job(store: Store, experiment_id: str) -> str:
    cells = [NewBatchCell(f"c{i}", 0, (0, 0, i), make_request()) for i in range(ANSWERS)]
    return store.batches.create(experiment_id, backend_name="openai", provider="openai",
                                completion_window="24h", cells=cells)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder, Store.open(Path(folder) / "w.db") as store:
        experiment = store.experiments.create(make_spec())
        ref = RunRef(experiment.id, experiment.variant_ids[0], experiment.test_ids[0])
        result = make_result()
        one, many = _job(store, experiment.id), _job(store, experiment.id)
        started = time.perf_counter()
        for i in range(ANSWERS):
            store.batches.land(one, f"c{i}", result, ref)
        each = time.perf_counter() - started
        started = time.perf_counter()
        landed = store.batches.land_many(many, ((f"c{i}", result, ref) for i in range(ANSWERS)))
        chunked = time.perf_counter() - started
    assert landed == ANSWERS
    print(f"a transaction per answer:  {ANSWERS:,} answers in {each:.2f} s "
          f"({each / ANSWERS * 1000:.2f} ms each)")
    print(f"land_many (256 a commit):  {ANSWERS:,} answers in {chunked:.2f} s "
          f"({chunked / ANSWERS * 1000:.2f} ms each)")
    print(f"ratio:                     {each / chunked:.1f}x faster; 100,000 lines ≈ "
          f"{chunked / ANSWERS * 100_000:.0f} s against {each / ANSWERS * 100_000:.0f} s")


if __name__ == "__main__":
    main()
