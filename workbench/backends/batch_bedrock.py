"""Bedrock batch inference as a :class:`~workbench.backends.batch.BatchProvider` (boto3, the
optional ``bedrock`` extra).

A job is a JSONL file in S3, one ``{recordId, modelInput}`` a line, where ``modelInput`` is the
model's native InvokeModel body: for Claude models the Messages API body a live Anthropic run
sends (built by :func:`workbench.backends.anthropic.messages_body`, never copied here) with
``anthropic_version: bedrock-2023-05-31`` and without ``model`` and ``stream``. The file goes to
``batch_s3_uri``; ``CreateModelInvocationJob`` names it, the output folder and the service role
Bedrock assumes (``batch_role_arn``) to read and write there. ``GetModelInvocationJob`` reports
the status (Submitted, Validating, Scheduled → InProgress → Completed or PartiallyCompleted;
Failed, Expired, Stopping → Stopped) and the record counts; ``StopModelInvocationJob`` stops it.
The answers are ``<output>/<job id>/<input file>.out``: one ``{recordId, modelInput,
modelOutput | error}`` a line for each record processed; records a stop or the job's timeout
left undone are absent, so they are read from the input file and reported as cancelled or
expired. Bedrock takes at least 100 records a job (fewer are refused before anything is
uploaded), one model a job, and charges half the on-demand price. A job's name starts with the
SHA-256 of its records, so records sent again after a process ended between creating the job
and recording its ARN find that job instead of being paid for twice.

``CreateModelInvocationJob`` goes through a client that sends it once (boto3 would retry a 5xx,
a timeout or a dropped connection, and a 502 may come after Bedrock created the job): such a
failure is an ``UnconfirmedError`` and :meth:`BedrockBatches.find` looks the job up by that
digest. A failure before anything was sent (no connection, a bad certificate) or a refusal
(4xx, throttling: nothing created) is reported as it is; the S3 upload and the reads keep
boto3's retries.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from workbench.backends.anthropic import (
    CAPABILITIES,
    DEFAULT_MAX_TOKENS,
    message_result,
    messages_body,
)
from workbench.backends.base import Backend, CancelToken
from workbench.backends.batch import (
    CANCELLED_KIND,
    EXPIRED_KIND,
    BatchItem,
    BatchLine,
    BatchPoll,
    BatchState,
    BatchUnsupported,
    RemoteBatch,
)
from workbench.backends.bedrock import BedrockBackend, status_error
from workbench.backends.credentials import redact
from workbench.backends.messages import chosen_model
from workbench.backends.reasoning import narrowed, takes_thinking_budget
from workbench.backends.recording import RunCancelled
from workbench.core.errors import KnownError, NotFoundError, ProtocolError, UnconfirmedError
from workbench.core.models import RunRequest, RunResult, SentRequest

#: The fewest records Bedrock takes in one job (its quota for most models).
MIN_RECORDS = 100
#: The most records of one job (Bedrock's default quota; larger jobs are split).
MAX_RECORDS = 50_000
#: The ``anthropic_version`` Claude's InvokeModel body carries on Bedrock.
BEDROCK_ANTHROPIC_VERSION = "bedrock-2023-05-31"
#: Statuses of a job that may still answer.
_RUNNING = ("Submitted", "Validating", "Scheduled", "InProgress")
_STATES: dict[str, BatchState] = {
    "Submitted": "validating",
    "Validating": "validating",
    "Scheduled": "validating",
    "InProgress": "in_progress",
    "Stopping": "cancelling",
    "Stopped": "cancelled",
    "Completed": "completed",
    "PartiallyCompleted": "completed",  # some records errored: their errors are in the output
    "Failed": "failed",
    "Expired": "expired",
}


def is_claude(model: str) -> bool:
    """Whether a Bedrock model ID (or inference profile, or ARN) is one of Anthropic's Claude."""
    return "anthropic.claude" in model


class BedrockBatches:
    """Batch inference jobs in the account, region and S3 location ``backend`` is set up for."""

    name = "bedrock"
    discount = 0.5
    max_lines = MAX_RECORDS
    min_lines = MIN_RECORDS

    def __init__(self, backend: BedrockBackend) -> None:
        self.backend = backend
        opts = backend.options
        self.completion_window = f"{opts.batch_timeout_hours}h"
        self.bucket, self.prefix = _s3_location(opts.batch_s3_uri)

    def line_for(self, custom_id: str, request: RunRequest) -> BatchLine:
        opts = self.backend.options
        model = chosen_model(request, opts.default_model, "a Bedrock model ID")
        if not is_claude(model):
            raise KnownError(
                f"Bedrock batch here supports Claude models; run {model} live",
                hint="batch jobs send Anthropic's Messages body, which only Claude models take",
            )
        capabilities = narrowed(CAPABILITIES, model, opts.capability_overrides,
                                budget=takes_thinking_budget(model))
        sent, body = messages_body(request, model, capabilities, DEFAULT_MAX_TOKENS,
                                   api="Bedrock")
        sent = sent.model_copy(
            update={"backend": self.backend.id, "backend_version": self.backend.version()}
        )
        model_input = {"anthropic_version": BEDROCK_ANTHROPIC_VERSION, **body}
        return BatchLine(custom_id, {"recordId": custom_id, "modelInput": model_input}, sent)

    def submit(self, lines: Sequence[BatchLine], cancel: CancelToken) -> RemoteBatch:
        if len(lines) < MIN_RECORDS:
            raise KnownError(
                f"Bedrock batch inference takes at least {MIN_RECORDS} records a job; this one "
                f"has {len(lines)}",
                hint="run these cells live (workbench compare), or batch a larger sweep",
            )
        models = sorted({line.sent.model for line in lines})
        if len(models) != 1:
            raise KnownError(
                f"a Bedrock batch job runs one model, not {', '.join(models)}",
                hint="send one model's cells at a time (or run the others live)",
            )
        content = _content(lines)
        same = _digest(content)
        running = next(iter(self._matching(same, None)), None)
        if running is not None:
            return running
        job_name = f"{same}-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}"
        folder = f"{self.prefix}{job_name}"
        input_key = f"{folder}/records.jsonl"
        output_uri = f"s3://{self.bucket}/{folder}/output/"
        self._call("s3", "put_object", Bucket=self.bucket, Key=input_key, Body=content.encode())
        if cancel.cancelled:
            raise RunCancelled
        opts = self.backend.options
        created = self._create(
            model=models[0],
            jobName=job_name,
            clientRequestToken=job_name,
            roleArn=opts.batch_role_arn,
            modelId=models[0],
            inputDataConfig={"s3InputDataConfig": {
                "s3Uri": f"s3://{self.bucket}/{input_key}", "s3InputFormat": "JSONL"}},
            outputDataConfig={"s3OutputDataConfig": {"s3Uri": output_uri}},
            timeoutDurationInHours=opts.batch_timeout_hours,
        )
        arn = created.get("jobArn")
        if not isinstance(arn, str) or not arn:
            raise UnconfirmedError("CreateModelInvocationJob answered without a jobArn")
        return RemoteBatch(arn, f"s3://{self.bucket}/{input_key}", {"output": output_uri})

    def _create(self, model: str, **kwargs: Any) -> Any:
        """``CreateModelInvocationJob``, sent once: a failure after it may have reached
        Bedrock is an ``UnconfirmedError``."""
        from botocore import exceptions as bx

        client = self.backend._client("bedrock", retries=False)
        try:
            return client.create_model_invocation_job(**kwargs)
        except Exception as err:
            error = self.backend._error(err, model)
            status = (err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
                      if isinstance(err, bx.ClientError) else 0)
            if isinstance(err, bx.HTTPClientError) or status >= 500 or status in (408, 409):
                raise UnconfirmedError(
                    f"Bedrock may have created the job before the call failed: {error}",
                    hint="it was not sent again, as a second job would be paid for too",
                ) from None
            raise error from None

    @property
    def console(self) -> str:
        region = self.backend.options.region or "the backend's region"
        return (f"the Bedrock console (https://console.aws.amazon.com/bedrock, Batch inference, "
                f"{region})")

    def find(self, lines: Sequence[BatchLine], since: datetime) -> list[RemoteBatch]:
        """The jobs of exactly these records (their digest) submitted since ``since``."""
        return self._matching(_digest(_content(lines)), since)

    def _matching(self, same: str, since: datetime | None) -> list[RemoteBatch]:
        """Jobs of the records of digest ``same`` (their names start with it): those still
        running (one created just before the process ended, before its ARN was recorded:
        sending them again would pay for them twice), or with ``since`` those submitted since."""
        listed = self._call("bedrock", "list_model_invocation_jobs", nameContains=same,
                            sortBy="CreationTime", sortOrder="Descending", maxResults=100)
        found = []
        for job in listed.get("invocationJobSummaries") or ():
            submitted = job.get("submitTime")
            recent = (since is not None and isinstance(submitted, datetime)
                      and submitted >= since)
            if (recent or job.get("status") in _RUNNING) and str(job.get("jobName")).startswith(
                    same):
                try:
                    input_uri = job["inputDataConfig"]["s3InputDataConfig"]["s3Uri"]
                    output_uri = job["outputDataConfig"]["s3OutputDataConfig"]["s3Uri"]
                except (KeyError, TypeError):
                    raise ProtocolError(f"Bedrock job {job.get('jobArn')} has no S3 "
                                        "locations") from None
                found.append(RemoteBatch(str(job["jobArn"]), input_uri, {"output": output_uri}))
        return found

    def poll(self, batch: RemoteBatch) -> BatchPoll:
        job = self._call("bedrock", "get_model_invocation_job", jobIdentifier=batch.batch_id)
        status = job.get("status")
        if status not in _STATES:
            raise ProtocolError(f"Bedrock job {batch.batch_id} has an unknown status {status!r}")
        return BatchPoll(
            state=_STATES[status],
            total=_count(job, "totalRecordCount"),
            succeeded=_count(job, "successRecordCount"),
            failed=_count(job, "errorRecordCount"),
            message=redact(str(job.get("message") or "")),
        )

    def cancel(self, batch: RemoteBatch) -> BatchPoll:
        if not self.poll(batch).ended:
            self._call("bedrock", "stop_model_invocation_job", jobIdentifier=batch.batch_id)
        return self.poll(batch)

    def results(
        self, batch: RemoteBatch, sent: Mapping[str, SentRequest]
    ) -> Iterator[BatchItem]:
        """The records of the ended job in its output file, then (for a stopped or expired
        job) the ones it left undone; ids not in ``sent`` are skipped (not ours to place)."""
        state = self.poll(batch).state
        if state not in ("completed", "failed", "expired", "cancelled"):
            raise ProtocolError(f"Bedrock job {batch.batch_id} has no results yet ({state})")
        input_uri = batch.input_file_id
        output_uri = (
            f"{batch.extra['output'].rstrip('/')}/{batch.batch_id.rsplit('/', 1)[-1]}/"
            f"{input_uri.rsplit('/', 1)[-1]}.out"
        )
        seen: set[str] = set()
        for line in self._lines(output_uri, missing_ok=True):
            record_id, item = self._item(line, output_uri, sent)
            seen.add(record_id)
            if item is not None:
                yield item
        if state not in ("cancelled", "expired"):
            return  # a failed job's unanswered records are the service's (re-run live)
        kind = CANCELLED_KIND if state == "cancelled" else EXPIRED_KIND
        why = ("the job was stopped before this record ran" if state == "cancelled"
               else "the job's time ran out before this record ran")
        for line in self._lines(input_uri, missing_ok=False):
            record_id = _record_id(line, input_uri)
            if record_id not in seen and record_id in sent:
                yield BatchItem(record_id, _failed(sent[record_id], why, kind))

    def _item(
        self, line: str, uri: str, sent: Mapping[str, SentRequest]
    ) -> tuple[str, BatchItem | None]:
        record_id = _record_id(line, uri)
        data = json.loads(line)
        request = sent.get(record_id)
        if request is None:
            return record_id, None
        if "modelOutput" in data:
            return record_id, BatchItem(record_id,
                                        message_result(request, data["modelOutput"], uri))
        error = data.get("error")
        if not isinstance(error, dict):
            raise ProtocolError(f"a record in {uri} has neither modelOutput nor error")
        try:
            status = int(error.get("errorCode") or 0)
        except (TypeError, ValueError):
            status = 0
        message = f"Bedrock reported {status or 'an error'}: " + redact(
            str(error.get("errorMessage") or ""))
        return record_id, BatchItem(record_id,
                                    _failed(request, message, status_error(status).code))

    def _lines(self, uri: str, *, missing_ok: bool) -> Iterator[str]:
        bucket, key = uri.removeprefix("s3://").split("/", 1)
        try:
            body = self._call("s3", "get_object", Bucket=bucket, Key=key)["Body"]
        except NotFoundError:
            if missing_ok:
                return  # the job processed no record
            raise
        try:
            for raw in body.iter_lines():
                if raw.strip():
                    yield raw.decode()
        finally:
            body.close()

    def _call(self, service: str, method: str, model: str = "", **kwargs: Any) -> Any:
        client = self.backend._client(service)
        try:
            return getattr(client, method)(**kwargs)
        except Exception as err:
            raise self.backend._error(err, model) from None


def provider_for(backend: Backend) -> BedrockBatches:
    """The batch inference of a Bedrock backend (``batch._PROVIDERS``); ``BatchUnsupported``
    until the S3 location and the service role are set."""
    assert isinstance(backend, BedrockBackend), backend
    for option, what in (("batch_s3_uri", "the s3://bucket/prefix for the job's files"),
                         ("batch_role_arn", "the IAM service role Bedrock assumes")):
        if not getattr(backend.options, option):
            raise BatchUnsupported(
                f"Bedrock batch jobs need the backend option {option} ({what})",
                hint=f"set it in Tools ▸ Backends (or 'workbench backends add NAME bedrock "
                f"--replace --option {option}=…' with the other options), or run it live",
            )
    return BedrockBatches(backend)


def _content(lines: Sequence[BatchLine]) -> str:
    """The JSONL file of ``lines``, as uploaded."""
    return "".join(json.dumps(line.line, ensure_ascii=False) + "\n" for line in lines)


def _digest(content: str) -> str:
    """The start of the names of jobs of ``content``: its SHA-256."""
    return f"workbench-{hashlib.sha256(content.encode()).hexdigest()[:24]}"


def _s3_location(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` as the bucket and the prefix ('' or ending in '/')."""
    if not uri.startswith("s3://") or not uri[5:].split("/", 1)[0]:
        raise BatchUnsupported(
            f"batch_s3_uri must look like s3://bucket/prefix, not {uri!r}",
            hint="set the Bedrock backend's batch_s3_uri option",
        )
    bucket, _, prefix = uri[5:].partition("/")
    prefix = prefix.strip("/")
    return bucket, f"{prefix}/" if prefix else ""


def _record_id(line: str, uri: str) -> str:
    try:
        record_id = json.loads(line)["recordId"]
    except (ValueError, KeyError, TypeError):
        raise ProtocolError(f"unreadable record in {uri}: {redact(line[:120])!r}") from None
    if not isinstance(record_id, str):
        raise ProtocolError(f"a record in {uri} has no recordId")
    return record_id


def _count(job: Mapping[str, Any], key: str) -> int:
    value = job.get(key)
    return value if isinstance(value, int) else 0


def _failed(request: SentRequest, message: str, kind: str) -> RunResult:
    return RunResult(request=request, finish_reason="error", error=message, error_kind=kind)
