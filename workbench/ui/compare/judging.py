"""The ratings and A/B preferences given in a compare view, and their summary under the columns.

Separate from ``CompareView`` because judging is its own state (the votes, the scores per run,
what was rated while blind) saved through the store writer, while the view lays out and runs the
columns; ``Judging`` reads the view's columns, order and blind mode and never changes them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.core.preferences import Judgement, Score, summarize
from workbench.storage.repositories import Rating, Store
from workbench.ui.background import on_gui
from workbench.ui.compare.column import CompareColumn

if TYPE_CHECKING:
    from workbench.ui.compare.compare_view import CompareView


class Judging:
    """What a compare view's columns were judged: ratings per run, A/B votes, the summary."""

    def __init__(self, view: CompareView) -> None:
        self.view = view
        self.judgements: list[Judgement] = []
        self.scores: dict[str, Score] = {}  # run id -> its rating
        self.blind_rated: set[str] = set()  # runs rated in this blind session: shown

    def load(self, store: Store, experiment_id: str, run_column: dict[str, int]) -> None:
        """The ratings and votes saved for a reopened comparison (``run_column``: its runs'
        column indices)."""
        keys = self.view.column_keys
        for run_id, index in run_column.items():
            rating = store.ratings.get(run_id)
            if rating is not None:
                self.scores[run_id] = Score(keys[index], rating.thumbs, rating.stars)
        self.judgements = [
            Judgement(keys[run_column[p.run_a]], keys[run_column[p.run_b]], p.choice)
            for p in store.ratings.preferences(experiment_id)
            if p.run_a in run_column and p.run_b in run_column
        ]
        self.show_summary()

    def show_rating(self, column: CompareColumn, run_id: str) -> None:
        """The saved rating of the repeat a column now shows, read behind the ratings still
        being written (a click's worth of waiting for the writer)."""
        view = self.view
        if view.blind and run_id not in self.blind_rated:
            column.show_rating(None)  # rated with the columns named: it would name this one
            return
        if view.writer is not None:
            # read behind the ratings still queued on the writer, shown when it answers
            def show(rating: Rating | None) -> None:
                if column.shown is not None and column.shown.run_id == run_id:
                    column.show_rating(rating)

            on_gui(view.writer.submit(lambda s: s.ratings.get(run_id)), view, show)

    def rated(self, run_id: str, thumbs: int | None, stars: int | None,
              comment: str | None) -> None:
        view = self.view
        if view.writer is None:
            return
        if view.blind:
            self.blind_rated.add(run_id)
        view.writer.submit(lambda s: s.ratings.rate(run_id, thumbs=thumbs, stars=stars,
                                                    comment=comment))
        index = next((i for i, c in enumerate(view.columns) if any(
            r.run_id == run_id for r in c.runs)), None)
        if index is not None:
            old = self.scores.get(run_id, Score(view.column_keys[index]))
            self.scores[run_id] = Score(old.variant, thumbs if thumbs is not None
                                        else old.thumbs, stars if stars is not None
                                        else old.stars)
            self.show_summary()

    def preferred(self, left: int, right: int, choice: str, comment: str) -> None:
        view = self.view
        a, b = view.columns[view.order[left]], view.columns[view.order[right]]
        run_a = a.shown.run_id if a.shown is not None else None
        run_b = b.shown.run_id if b.shown is not None else None
        if run_a is None or run_b is None or view.writer is None:
            view.preferences.show_summary("Run both columns (with history on) before "
                                          "judging them.")
            return
        view.writer.submit(lambda s: s.ratings.prefer(run_a, run_b, choice,  # type: ignore[arg-type]
                                                      comment))
        self.judgements.append(Judgement(view.column_keys[view.columns.index(a)],
                                         view.column_keys[view.columns.index(b)],
                                         choice))  # type: ignore[arg-type]
        self.show_summary()

    def summary(self) -> str:
        """Win rates (with their 95% interval) and ratings per column; while blind only the
        number of votes, since per-column figures would tell the columns apart."""
        view = self.view
        if view.blind:
            votes = len(self.judgements)
            return (f"{votes} A/B vote{'s' if votes != 1 else ''} recorded; the results show "
                    "when you reveal the columns (Ctrl+B)") if votes else ""
        rows = summarize(self.judgements, self.scores.values(),
                         variants=[view.column_keys[i] for i in view.order])
        parts = []
        for row in rows:
            name = row.variant  # blind never gets here: the names are the columns' letters
            if row.win_rate is not None:
                parts.append(f"{name}: won {row.win_rate:.0%} of {row.comparisons} "
                             f"(95% CI {row.low:.0%}–{row.high:.0%})")
            elif row.thumbs_up or row.thumbs_down or row.stars_count:
                parts.append(f"{name}: no A/B yet")
            if row.stars_mean is not None:
                parts[-1] += f", ★ {row.stars_mean:.1f}"
            if row.thumbs_up or row.thumbs_down:
                parts[-1] += f", thumbs up {row.thumbs_up} / down {row.thumbs_down}"
        return " · ".join(parts)

    def show_summary(self) -> None:
        self.view.preferences.show_summary(self.summary())
