"""Provider batch jobs: a sweep's or evaluation's cells sent through the provider's batch API
(``backends.batch``), polled until the provider ends them, and landed as ordinary runs of their
cells, so compare, history and export see them like live runs.

``submit`` plans the experiment as a live run would (``grid_runner.plan``), skips the cells done
already and those waiting in an open job, and sends the rest of each backend with a batch API as
one job, split into parts of one model and at most ``max_lines`` lines. Everything a later
process needs is recorded in the store first (``storage.repositories.batch_jobs``): ``refresh``
on a job, in this process or after a restart, sends parts not sent yet, polls the rest, and once
a part ended reads its results and lands each answer (priced at the batch discount) as a run of
its cell. Lines the provider failed, cancelled or did not reach are runs with an error, or no run
at all (``missing``); ``workbench compare ID`` / ``workbench eval SUITE --resume ID`` re-run
exactly those live through the normal runner (they skip cells with a finished run), and the
latter grades the landed answers. No Qt: the app drives this from a worker.

A batch is paid for once created, so a part is never sent twice, by one actor or two (the
submit loop and the app's poll round on another thread, the app and ``workbench batch status``
in a terminal): whoever sends a part first claims it in the store, ``pending`` to ``sending``
in one compare-and-set (``BatchJobRepository.sending``), and only the one that claimed it
sends; the others leave it. The sender also holds the part's file lock (``storage.locks``,
dropped by the system when a process ends) from before its claim until the outcome is recorded,
so a part found ``sending`` with its lock free was left by a sender that ended (crashed,
killed) and one with its lock held is in flight elsewhere, left to its sender. A create that
failed after it may have reached the provider (``UnconfirmedError``: a 502 after the batch was
made, a timeout) or a part left ``sending`` is looked up at the provider
(``BatchProvider.find``). A single match is recorded as the part's batch; otherwise the part is
``unknown``: its message names the provider's console, and only ``resend`` (the person having
checked) or ``cancel`` moves it on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime

from workbench.backends.base import CancelToken
from workbench.backends.batch import (
    CLOCK_MARGIN,
    BatchLine,
    BatchProvider,
    BatchUnconfirmed,
    RemoteBatch,
    batch_provider,
)
from workbench.backends.recording import RunCancelled
from workbench.core.conversation import uses_conversation
from workbench.core.conversation_case import conversation_of
from workbench.core.errors import KnownError, UnconfirmedError
from workbench.core.grid import CellKey, PlannedCell
from workbench.core.models import RunResult
from workbench.services.grid_runner import completed_keys, plan, waiting_keys
from workbench.services.runner import Runner
from workbench.storage.locks import FileLock
from workbench.storage.repositories import RunRef, Store, StoredExperiment
from workbench.storage.repositories.batch_jobs import (
    PENDING,
    SENDING,
    UNKNOWN,
    BatchJob,
    BatchPart,
    NewBatchCell,
)

#: Seconds between polls while waiting on a job (a provider answers within hours).
POLL_INTERVAL_S = 30.0


def live_only(item: PlannedCell) -> str | None:
    """Why a cell cannot go as one batch line (None: it can): a batch answers one request,
    and these cells are several requests, each depending on the answer before it. They are
    left to the live run."""
    if item.request is not None and item.request.tools:
        return "its template's tool calls are answered by mocks, turn after turn"
    if uses_conversation(item.cell.variant.template):
        return "its template reads the conversation so far (a thread of turns)"
    if item.cell.test is not None and conversation_of(item.cell.test) is not None:
        return "its test case is a conversation"
    return None


def custom_id(key: CellKey) -> str:
    """A cell's line id: its key with dashes (``v2-t0-r1``), as every provider accepts."""
    return str(key).replace(".", "-")


@dataclass(frozen=True)
class _Line:
    key: CellKey
    line: BatchLine


class BatchJobs:
    """Submit, poll, fetch and cancel the batch jobs of the store's experiments."""

    def __init__(self, store: Store, runner: Runner) -> None:
        self.store = store
        self.runner = runner

    # --- sending -------------------------------------------------------------------------

    def submit(
        self,
        experiment: StoredExperiment,
        *,
        backend: str | None = None,
        cancel: CancelToken | None = None,
    ) -> list[BatchJob]:
        """Send the experiment's cells not done yet (only ``backend``'s, if given), one job per
        backend; a backend without a batch API stops it before anything is sent. Cells that
        are several requests (:func:`live_only`) are left to the live run."""
        cancel = cancel or CancelToken()
        done = completed_keys(self.store, experiment) | waiting_keys(self.store, experiment.id)
        by_backend: dict[str, list[PlannedCell]] = {}
        for item in plan(experiment.spec):
            if item.request is None or item.cell.key in done or live_only(item):
                continue  # a cell that cannot render says why when it runs live
            if backend is None or item.request.backend == backend:
                by_backend.setdefault(item.request.backend, []).append(item)
        if not by_backend:
            unknown = [job.id for job in self.store.batches.jobs(
                experiment_id=experiment.id, unfinished=True) if _unknown(job)]
            nothing = ("nothing to send: every cell is done, waiting in a batch job, or several "
                       "requests (tool calls answered by mocks, conversations) that only run live")
            if unknown:
                raise BatchUnconfirmed(f"{nothing}; job {', '.join(i[:8] for i in unknown)} "
                                       "may have a batch at its provider that could not be "
                                       "confirmed", unknown)
            raise KnownError(nothing, hint="see 'workbench batch list'; run the rest with "
                             "'workbench compare'")
        providers = {name: self._provider(name) for name in by_backend}
        lines = {name: self._lines(providers[name], name, items)
                 for name, items in by_backend.items()}
        split = {name: _parts(lines[name], providers[name].max_lines) for name in lines}
        for name, parts in split.items():
            _check_sizes(providers[name], name, parts)
        jobs = []
        for name, parts in split.items():
            provider = providers[name]
            job_id = self.store.batches.create(
                experiment.id,
                backend_name=name,
                provider=provider.name,
                completion_window=provider.completion_window,
                cells=[
                    NewBatchCell(line.line.custom_id, part, _position(line.key), line.line.sent)
                    for part, part_lines in enumerate(parts)
                    for line in part_lines
                ],
            )
            for part, part_lines in enumerate(parts):
                try:
                    # a part a poll round claimed meanwhile is its to send
                    self._send(job_id, part, provider, [line.line for line in part_lines], cancel)
                except BaseException:
                    if part == 0:
                        self.store.batches.discard(job_id)  # unless a part is at the provider
                        # (sent by a poll meanwhile): the cells stay free to send
                    raise  # else 'refresh' sends (or confirms) the rest
            job = self.store.batches.get(job_id)
            if all(p.remote_id for p in job.parts):
                self.store.batches.set_status(job_id, "running", was="submitting")
            jobs.append(self.store.batches.get(job_id))
        return jobs

    def _lines(self, provider: BatchProvider, name: str, items: Sequence[PlannedCell]
               ) -> list[_Line]:
        out = []
        for item in items:
            assert item.request is not None
            line = provider.line_for(custom_id(item.cell.key), item.request)
            sent = line.sent.model_copy(
                update={"requested_params": item.request.params, "backend_name": name}
            )
            out.append(_Line(item.cell.key, BatchLine(line.custom_id, line.line, sent)))
        return out

    def _send(self, job_id: str, part: int, provider: BatchProvider,
              lines: Sequence[BatchLine], cancel: CancelToken, *, was: str = PENDING) -> bool:
        """Create the part's batch if this caller claims it (its lock, then ``was`` ->
        ``sending`` in the store); False: another thread or process has it, or had it (sent,
        or being sent). A failure that created nothing (a refusal, no connection, a cancel
        before sending) makes the part pending again; one after which the batch may exist is
        confirmed (:meth:`_confirm`); anything else (the process interrupted) leaves the mark
        for the next process to confirm."""
        with self._holding(job_id, part) as held:
            if not held or not self.store.batches.sending(job_id, part, was=was):
                return False
            since = datetime.now(UTC)
            try:
                remote = provider.submit(lines, cancel)
            except UnconfirmedError as err:
                self._confirm(job_id, part, provider, lines, since, str(err))
                return True
            except (KnownError, RunCancelled):
                self.store.batches.unsent(job_id, part)
                raise
            self.store.batches.submitted(
                job_id, part, remote_id=remote.batch_id, input_file_id=remote.input_file_id,
                extra=remote.extra,
            )
            return True

    @contextmanager
    def _holding(self, job_id: str, part: int) -> Iterator[bool]:
        """The part's send lock, held for the block; False: another thread or process holds
        it (sending the part, or confirming it), and nothing may be done to the part. A
        sender holds it from before its claim until the outcome is recorded, so a ``sending``
        part whose lock is free was left by a sender that ended."""
        lock = FileLock(self.store.db.path.parent / "locks" / f"batch-{job_id}-{part}.lock")
        if lock.try_acquire() is not None:
            yield False
            return
        try:
            yield True
        finally:
            lock.release()

    def _in_flight(self, job_id: str, part: int) -> bool:
        """Whether another thread or process is sending (or confirming) the part now."""
        with self._holding(job_id, part) as held:
            return not held

    def _confirm(self, job_id: str, part: int, provider: BatchProvider,
                 lines: Sequence[BatchLine], since: datetime, why: str) -> None:
        """Look for the batch a create sent at ``since`` may have made (``why``: what went
        wrong). The one batch found (and not already another part's) is recorded as the part's;
        none or several: the part is unknown, and a KnownError says where to check. A failed
        look leaves the part ``sending``, for the next refresh to look again."""
        try:
            found = provider.find(lines, since - CLOCK_MARGIN)
        except KnownError as err:
            raise KnownError(
                f"{why}; looking for the batch at {provider.name} failed too: {err}",
                hint="'workbench batch status' looks again (nothing is sent again)",
            ) from None
        known = {p.remote_id for job in self.store.batches.jobs() for p in job.parts}
        found = [remote for remote in found if remote.batch_id not in known]
        if len(found) == 1:
            (remote,) = found
            self.store.batches.submitted(
                job_id, part, remote_id=remote.batch_id, input_file_id=remote.input_file_id,
                extra=remote.extra,
                message=f"found at {provider.name} after its create was not confirmed ({why})",
            )
            return
        what = "several batches that could be it" if found else "no batch of these requests"
        message = (
            f"{provider.name} may have created this batch of {len(lines)} requests: {why}; its "
            f"list shows {what}. Check {provider.console} before sending it again"
        )
        self.store.batches.unconfirmed(job_id, part, message)
        raise BatchUnconfirmed(f"batch job {job_id[:8]}: {message}", [job_id])

    def _lines_of(self, job: BatchJob, provider: BatchProvider, part: BatchPart
                  ) -> list[BatchLine]:
        """The lines of a recorded part, built again from the experiment with the recorded
        ids (the same lines the part was, or would have been, sent as)."""
        experiment = self.store.experiments.get(job.experiment_id)
        planned = {item.cell.key: item for item in plan(experiment.spec)}
        lines = []
        for cell in self.store.batches.cells(job.id, part=part.part):
            request = planned[CellKey(*cell.key)].request
            assert request is not None  # it was rendered when the job was made
            lines.append(provider.line_for(cell.custom_id, request))
        return lines

    def _resume(self, job: BatchJob, provider: BatchProvider, part: BatchPart) -> bool:
        """Bring a part without a batch id on: one never sent is sent (unless another
        thread or process claims it first); one a process ended while creating (``sending``,
        its lock free) is looked up, never sent again; one being sent elsewhere is left to
        its sender. True: the part has its batch now."""
        if part.state == UNKNOWN:
            return False
        if part.state != SENDING:
            self._send(job.id, part.part, provider, self._lines_of(job, provider, part),
                       CancelToken())
            return self._recorded(job.id, part.part)
        with self._holding(job.id, part.part) as held:
            part = _part(self.store.batches.get(job.id), part.part)
            if not held or part.remote_id is not None or part.state != SENDING:
                return part.remote_id is not None  # in flight elsewhere, or just recorded
            since = datetime.fromisoformat(part.submitted_at or part.updated_at)
            why = "the process creating it ended before its batch was recorded"
            with suppress(KnownError):  # unknown now (said in its message), or the look failed
                self._confirm(job.id, part.part, provider, self._lines_of(job, provider, part),
                              since, why)
            return self._recorded(job.id, part.part)

    def _recorded(self, job_id: str, part: int) -> bool:
        return _part(self.store.batches.get(job_id), part).remote_id is not None

    def resend(self, job_id: str) -> BatchJob:
        """Send again the parts whose batch could not be confirmed, the person having checked
        the provider has none of them (else they would be paid for twice)."""
        job = self.store.batches.get(job_id)
        unknown = [p for p in job.parts
                   if p.state == UNKNOWN and p.remote_id is None and not p.fetched]
        if not unknown or job.status in ("cancelling", "ended"):
            raise KnownError(f"batch job {job.id[:8]} has no batch of unknown outcome to send")
        provider = self._provider(job.backend_name)
        for part in unknown:  # a part another process resent meanwhile is not claimed again
            self._send(job.id, part.part, provider, self._lines_of(job, provider, part),
                       CancelToken(), was=UNKNOWN)
        return self.refresh(job.id)

    # --- following -----------------------------------------------------------------------

    def refresh(self, job_id: str) -> BatchJob:
        """Bring the job up to date: send what was never sent, poll each part not fetched yet,
        land the results of those that ended. Safe to repeat, from any process."""
        job = self.store.batches.get(job_id)
        if job.status == "ended":
            return job
        provider = self._provider(job.backend_name)
        for part in job.parts:
            if part.fetched:
                continue
            if part.remote_id is None:
                if job.status == "cancelling":
                    if part.state == SENDING and self._in_flight(job.id, part.part):
                        continue  # its batch is being created: polled once recorded
                    if not self._recorded(job.id, part.part):
                        self.store.batches.fetched(job.id, part.part)  # never sent: all missing
                        continue
                if not self._resume(job, provider, part):
                    continue
                part = _part(self.store.batches.get(job.id), part.part)
            assert part.remote_id is not None
            remote = RemoteBatch(part.remote_id, part.input_file_id, part.extra)
            polled = provider.poll(remote)
            self.store.batches.polled(
                job.id, part.part, state=polled.state, total=polled.total,
                succeeded=polled.succeeded, failed=polled.failed, message=polled.message,
            )
            if polled.ended:
                self._fetch(job, part.part, provider, remote)
        job = self.store.batches.get(job.id)
        if all(p.fetched for p in job.parts):
            self.store.batches.set_status(job.id, "ended")
        elif job.status == "submitting" and all(p.remote_id for p in job.parts):
            self.store.batches.set_status(job.id, "running", was="submitting")
        return self.store.batches.get(job.id)

    def _fetch(self, job: BatchJob, part: int, provider: BatchProvider,
               remote: RemoteBatch) -> None:
        experiment = self.store.experiments.get(job.experiment_id)
        cells = {c.custom_id: c for c in self.store.batches.cells(job.id, part=part)
                 if c.outcome is None}
        sent = {custom: cell.sent for custom, cell in cells.items()}
        by_key = {item.cell.key: item for item in plan(experiment.spec)}

        def landing() -> Iterator[tuple[str, RunResult, RunRef]]:
            for item in provider.results(remote, sent):
                key = CellKey(*cells[item.custom_id].key)
                planned = by_key[key].cell
                ref = RunRef.of_cell(
                    planned.variant,
                    planned.values,
                    experiment_id=experiment.id,
                    variant_id=experiment.variant_ids[key.variant],
                    test_case_id=None if key.test is None else experiment.test_ids[key.test],
                    repeat_index=key.repeat,
                )
                price = self.runner.priced(item.result, job.backend_name, factor=provider.discount)
                yield item.custom_id, price, ref

        self.store.batches.land_many(job.id, landing())
        self.store.batches.fetched(job.id, part)

    def wait(
        self,
        job_id: str,
        cancel: CancelToken,
        *,
        interval_s: float = POLL_INTERVAL_S,
        on_poll: Callable[[BatchJob], None] | None = None,
    ) -> BatchJob:
        """Refresh the job every ``interval_s`` until it ended, ``cancel`` fires (the job
        goes on at the provider: a later ``refresh`` picks it up) or all it waits on is a
        batch of unknown outcome (the person's to check)."""
        while True:
            job = self.refresh(job_id)
            if on_poll is not None:
                on_poll(job)
            stuck = _unknown(job) and all(p.fetched or p.state == UNKNOWN for p in job.parts)
            if job.status == "ended" or stuck or cancel.wait(interval_s):
                return job

    def cancel(self, job_id: str) -> BatchJob:
        """Ask the provider to stop each part still running; what was done is still fetched
        (by ``refresh``), the rest becomes re-runnable live."""
        job = self.store.batches.get(job_id)
        if job.status == "ended":
            return job
        provider = self._provider(job.backend_name)
        self.store.batches.set_status(job.id, "cancelling")
        for part in job.parts:
            if (part.remote_id is None and part.state in (SENDING, UNKNOWN) and not part.fetched
                    and not self._in_flight(job.id, part.part)):
                self.store.batches.unconfirmed(job.id, part.part, (
                    f"cancelled without a batch id: a batch it may have become at "
                    f"{provider.name} cannot be stopped from here; check {provider.console}"))
            if part.remote_id is None or part.fetched or part.state in ("completed", "failed",
                                                                        "expired", "cancelled"):
                continue
            polled = provider.cancel(RemoteBatch(part.remote_id, part.input_file_id, part.extra))
            self.store.batches.polled(
                job.id, part.part, state=polled.state, total=polled.total,
                succeeded=polled.succeeded, failed=polled.failed, message=polled.message,
            )
        return self.refresh(job.id)

    def unfinished(self) -> list[BatchJob]:
        """Jobs not ended, newest first: what to resume polling at start."""
        return self.store.batches.jobs(unfinished=True)

    # --- helpers -------------------------------------------------------------------------

    def _provider(self, backend: str) -> BatchProvider:
        return batch_provider(self.runner.backend(backend))


def _parts(lines: Sequence[_Line], max_lines: int) -> list[list[_Line]]:
    """Lines split into parts of one model each and at most ``max_lines`` lines."""
    by_model: dict[str, list[_Line]] = {}
    for line in lines:
        by_model.setdefault(line.line.sent.model, []).append(line)
    return [
        same[start : start + max_lines]
        for same in by_model.values()
        for start in range(0, len(same), max_lines)
    ]


def _check_sizes(provider: BatchProvider, name: str, parts: Sequence[Sequence[_Line]]) -> None:
    """Refuse, before anything is recorded or sent, a part smaller than the provider takes
    (Bedrock: 100 records a job); sending the others would leave that part failing forever."""
    for part in parts:
        if len(part) < provider.min_lines:
            model = part[0].line.sent.model
            raise KnownError(
                f"{provider.name}'s batch API takes at least {provider.min_lines} requests a "
                f"batch; a batch of {name}'s job would have {len(part)} cells of {model}",
                hint="run them live (workbench compare), or batch a larger sweep",
            )


def _position(key: CellKey) -> tuple[int, int | None, int]:
    return (key.variant, key.test, key.repeat)


def _unknown(job: BatchJob) -> bool:
    """Whether a part of ``job`` may be at its provider without its id here."""
    return any(p.state == UNKNOWN and not p.fetched for p in job.parts)


def _part(job: BatchJob, number: int) -> BatchPart:
    return next(p for p in job.parts if p.part == number)
