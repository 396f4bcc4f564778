"""A local server speaking what Bedrock batch inference uses, for boto3 pointed at it with
``endpoint_url`` and ``s3_endpoint_url``: S3's object endpoints in path style (``PUT`` and
``GET /{bucket}/{key}``, ``NoSuchKey`` as S3's XML error) and Bedrock's control plane
(docs.aws.amazon.com/bedrock/latest/APIReference: ``POST /model-invocation-job``,
``GET /model-invocation-job/{jobIdentifier}``, ``POST …/stop``, ``GET /model-invocation-jobs``)
with the job state machine.

A created job is ``Submitted``; the server checks it as Bedrock's validation does (the role, the
input file in S3, at least 100 records, Claude bodies with ``anthropic_version``) and fails it
with a message otherwise. The test moves it on: :meth:`start` (``InProgress``), :meth:`settle`
(records answered: ``ok`` echoes the last user message, ``error`` is a 400), :meth:`finish`
(``Completed``/``PartiallyCompleted``, ``Stopped`` after a stop, or ``Expired``), which writes
``<output>/<job id>/<input file>.out`` with the processed records only, as Bedrock does.
``create_faults`` fail creates after the job was made (``LocalServer.answers_create``).
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.backends.local_servers import LocalServer, _Handler

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/BedrockBatch"
JOBS = f"arn:aws:bedrock:us-west-2:{ACCOUNT}:model-invocation-job"
_JOB = re.compile(r"^/model-invocation-job/([^/]+)(/stop)?$")
_NAME = re.compile(r"[a-zA-Z0-9]{1,63}(-*[a-zA-Z0-9\+\-\.]){0,63}")
MIN_RECORDS = 100


class BedrockBatchServer(LocalServer):
    def __init__(self) -> None:
        super().__init__({("*", "*"): self._route})
        self.objects: dict[tuple[str, str], bytes] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self._state = threading.Lock()

    # --- what the test does -------------------------------------------------------------

    def created(self) -> list[dict[str, Any]]:
        """The bodies of every CreateModelInvocationJob, in order."""
        return self.bodies("/model-invocation-job")

    def records(self, arn: str) -> list[dict[str, Any]]:
        """The input records of a job, as uploaded."""
        return [json.loads(line) for line in self._object(self.jobs[arn]["input"]).splitlines()]

    def start(self, arn: str) -> None:
        with self._state:
            assert self.jobs[arn]["status"] == "Submitted"
            self.jobs[arn]["status"] = "InProgress"

    def settle(self, arn: str, outcomes: dict[str, str]) -> None:
        """Answer records: recordId -> ok | error."""
        with self._state:
            job = self.jobs[arn]
            for record_id, kind in outcomes.items():
                assert record_id in job["pending"], record_id
                job["done"][record_id] = kind
                job["pending"].remove(record_id)

    def finish(self, arn: str, *, expire: bool = False) -> None:
        """End the job and write its output (the processed records only)."""
        with self._state:
            job = self.jobs[arn]
            errors = sum(kind == "error" for kind in job["done"].values())
            if job["status"] == "Stopping":
                job["status"] = "Stopped"
            elif expire:
                job["status"] = "Expired"
            else:
                assert not job["pending"], "records left: settle them or expire the job"
                job["status"] = "PartiallyCompleted" if errors else "Completed"
            inputs = {r["recordId"]: r["modelInput"] for r in self.records(arn)}
            lines = [
                json.dumps({"recordId": rid, "modelInput": inputs[rid],
                            **_output(kind, inputs[rid])})
                for rid, kind in job["done"].items()
            ]
            output = f"{job['output'].rstrip('/')}/{arn.rsplit('/', 1)[-1]}/" \
                f"{job['input'].rsplit('/', 1)[-1]}.out"
            self.objects[_split(output)] = "".join(line + "\n" for line in lines).encode()

    # --- the wire -----------------------------------------------------------------------

    def _route(self, h: _Handler, body: Any) -> None:
        path = urlsplit(h.path).path
        if path == "/model-invocation-job" and h.command == "POST":
            self._create(h, body)
        elif path == "/model-invocation-jobs" and h.command == "GET":
            self._list(h, parse_qs(urlsplit(h.path).query))
        elif match := _JOB.match(path):
            self._job(h, unquote(match.group(1)), match.group(2))
        else:
            self._s3(h, unquote(path))

    def _s3(self, h: _Handler, path: str) -> None:
        bucket, _, key = path.lstrip("/").partition("/")
        assert "aws-chunked" not in h.headers.get("Content-Encoding", ""), "chunked upload"
        if h.command == "PUT":
            with self._state:
                self.objects[(bucket, key)] = h.raw
            h.send_response(200)
            h.send_header("ETag", '"etag"')
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        data = self.objects.get((bucket, key))
        if h.command != "GET" or data is None:
            error = (b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>NoSuchKey</Code>"
                     b"<Message>The specified key does not exist.</Message></Error>")
            h.send_body(404, error, "application/xml")
            return
        h.send_body(200, data, "binary/octet-stream")

    def _create(self, h: _Handler, body: dict[str, Any]) -> None:
        for field in ("jobName", "roleArn", "modelId", "inputDataConfig", "outputDataConfig"):
            if not body.get(field):
                _error(h, 400, "ValidationException", f"{field} is required")
                return
        if not _NAME.fullmatch(body["jobName"]):
            _error(h, 400, "ValidationException", "jobName does not match the pattern")
            return
        with self._state:
            arn = f"{JOBS}/job{next(self._ids):04d}"
            self.jobs[arn] = {
                "body": body,
                "status": "Submitted",
                "message": "",
                "input": body["inputDataConfig"]["s3InputDataConfig"]["s3Uri"],
                "output": body["outputDataConfig"]["s3OutputDataConfig"]["s3Uri"],
                "pending": [],
                "done": {},
                "submitted": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            }
            self._validate(self.jobs[arn])
        if self.answers_create(h):
            h.send_json(200, {"jobArn": arn})

    def _list(self, h: _Handler, query: dict[str, list[str]]) -> None:
        """ListModelInvocationJobs, filtered by ``nameContains``, newest first."""
        part = query.get("nameContains", [""])[0]
        with self._state:
            jobs = [self._describe(arn, job) for arn, job in reversed(self.jobs.items())
                    if part in job["body"]["jobName"]]
        h.send_json(200, {"invocationJobSummaries": jobs})

    def _validate(self, job: dict[str, Any]) -> None:
        """What Bedrock checks before it runs a job: a failed check fails the job."""
        problem = ""
        data = self.objects.get(_split(job["input"]))
        if job["body"]["roleArn"] != ROLE:
            problem = "the service role cannot be assumed"
        elif data is None:
            problem = "the input file was not found in S3"
        else:
            records = [json.loads(line) for line in data.decode().splitlines()]
            versions = {r["modelInput"].get("anthropic_version") for r in records}
            if len(records) < MIN_RECORDS:
                problem = f"the job has {len(records)} records; the minimum is {MIN_RECORDS}"
            elif versions != {"bedrock-2023-05-31"} or any(
                "model" in r["modelInput"] or "stream" in r["modelInput"] for r in records
            ):
                problem = "a modelInput is not a Claude InvokeModel body"
            job["pending"] = [r["recordId"] for r in records]
        if problem:
            job["status"], job["message"] = "Failed", problem

    def _job(self, h: _Handler, arn: str, action: str | None) -> None:
        with self._state:
            job = self.jobs.get(arn)
        if job is None:
            _error(h, 404, "ResourceNotFoundException", f"no job {arn}")
        elif action == "/stop" and h.command == "POST":
            with self._state:
                if job["status"] not in ("Submitted", "Validating", "Scheduled", "InProgress"):
                    _error(h, 400, "ValidationException", f"the job is {job['status']}")
                    return
                job["status"] = "Stopping"
            h.send_json(200, {})
        elif action is None and h.command == "GET":
            h.send_json(200, self._describe(arn, job))
        else:
            _error(h, 405, "ValidationException", "method not allowed")

    @staticmethod
    def _describe(arn: str, job: dict[str, Any]) -> dict[str, Any]:
        body = job["body"]
        done = job["done"]
        ended = job["status"] in ("Completed", "PartiallyCompleted", "Stopped", "Failed",
                                  "Expired")
        counts = {
            "totalRecordCount": len(done) + len(job["pending"]),
            "processedRecordCount": len(done),
            "successRecordCount": sum(kind == "ok" for kind in done.values()),
            "errorRecordCount": sum(kind == "error" for kind in done.values()),
        } if ended else {}
        return {
            "jobArn": arn, "jobName": body["jobName"], "modelId": body["modelId"],
            "roleArn": body["roleArn"], "status": job["status"], "message": job["message"],
            "submitTime": job["submitted"],
            "inputDataConfig": body["inputDataConfig"],
            "outputDataConfig": body["outputDataConfig"],
            "timeoutDurationInHours": body.get("timeoutDurationInHours", 24),
            **counts,
        }

    def _object(self, uri: str) -> str:
        return self.objects[_split(uri)].decode()


def echo(model_input: dict[str, Any]) -> str:
    """What an ``ok`` record answers: the last user message, echoed."""
    content = model_input["messages"][-1]["content"]
    text = content if isinstance(content, str) else content[0]["text"]
    return f"echo: {text}"


def _output(kind: str, model_input: dict[str, Any]) -> dict[str, Any]:
    if kind == "ok":
        return {"modelOutput": {
            "id": "msg_bdrk_1", "type": "message", "role": "assistant",
            "model": "claude-test", "content": [{"type": "text", "text": echo(model_input)}],
            "stop_reason": "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 4},
        }}
    return {"error": {"errorCode": 400, "errorMessage": "max_tokens: too large"}}


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _error(h: _Handler, status: int, code: str, message: str) -> None:
    data = json.dumps({"message": message}).encode()
    h.send_response(status)
    h.send_header("Content-Type", "application/json")
    h.send_header("x-amzn-ErrorType", code)
    h.send_header("Content-Length", str(len(data)))
    h.end_headers()
    h.wfile.write(data)
