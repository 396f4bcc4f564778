"""The runs a person rated good, as fine-tuning JSONL: what File ▸ Export rated runs writes.

The same examples ``workbench export --format finetune-jsonl --thumbs-up`` writes (and
``workbench finetune check`` accepts): finished runs rated thumbs up or at least ``MIN_STARS``
stars, oldest first; runs cut off at their token limit are left out and counted.
"""

from __future__ import annotations

from workbench.core.errors import KnownError
from workbench.storage.finetune import finetune_jsonl
from workbench.storage.formats import Export
from workbench.storage.repositories import Store

MIN_STARS = 4


def rated_run_ids(store: Store) -> list[str]:
    """Finished runs rated thumbs up or ``MIN_STARS``+ stars, oldest first."""
    chosen = set(store.ratings.rated_run_ids(thumbs=1))
    chosen |= set(store.ratings.rated_run_ids(min_stars=MIN_STARS))
    return [i for i in store.runs.ids(status="ok") if i in chosen]


def export_rated(store: Store, *, include_truncated: bool = False) -> Export:
    """The rated runs as OpenAI chat fine-tuning JSONL; ``written`` counts the examples."""
    ids = rated_run_ids(store)
    if not ids:
        raise KnownError(
            "no rated runs to export",
            hint=f"rate good answers thumbs up (or {MIN_STARS}+ stars) in the compare view first",
        )
    data = finetune_jsonl(
        (run.result for run in store.runs.get_many(ids)), include_truncated=include_truncated
    )
    warnings = []
    if data.truncated:
        runs = "1 run" if data.truncated == 1 else f"{data.truncated:,} runs"
        warnings.append(f"left out {runs} cut off at the token limit: their answers end "
                        "mid-sentence")
    if not data.text:
        raise KnownError(f"every rated run ({data.truncated}) was cut off at its token limit")
    return Export(data.text, warnings, written=data.text.count("\n"))
