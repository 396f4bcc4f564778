"""Amazon Bedrock through boto3's Converse / ConverseStream (the optional ``bedrock`` extra).

boto3 is imported on first use, so the app starts without it and says how to install it when
Bedrock is chosen. AWS credentials stay with boto3 (profile, environment, SSO…): we never see
them. ``endpoint_url`` points the client at a VPC endpoint, a proxy, or a local test server.
A response format is a forced tool (``toolConfig``): the tool's input is the answer.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from pydantic import Field, field_validator

from workbench.backends.base import (
    BackendOptions,
    CancelToken,
    ModelInfo,
    StreamEvent,
    UsageUpdate,
)
from workbench.backends.credentials import redact
from workbench.backends.messages import (
    MIN_THINKING_BUDGET,
    anthropic_thinking,
    chat_turns,
    chosen_model,
)
from workbench.backends.reasoning import narrowed, takes_thinking_budget
from workbench.backends.recording import PlannedBackend, RunCancelled, RunRecorder
from workbench.backends.structured import bedrock_forced_tool
from workbench.backends.tool_wire import bedrock_messages, bedrock_tool_config, dumps
from workbench.core.errors import (
    AuthError,
    BackendError,
    BackendTimeoutError,
    BadRequestError,
    ConnectError,
    KnownError,
    NotFoundError,
    ParameterError,
    ProtocolError,
    RateLimitError,
    ServerError,
)
from workbench.core.models import FinishReason, RunRequest, SentRequest, Usage
from workbench.core.params import Capabilities, ParamCapability, check_param_names

_INFERENCE = {
    "max_tokens": "maxTokens",
    "temperature": "temperature",
    "top_p": "topP",
    "stop": "stopSequences",
}
_FINISH: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}
_AUTH_CODES = {
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "ExpiredTokenException",
    "ExpiredToken",
}
_ERRORS_BY_CODE: dict[str, type[BackendError]] = {
    **dict.fromkeys(_AUTH_CODES, AuthError),
    "ResourceNotFoundException": NotFoundError,
    "ThrottlingException": RateLimitError,
    "TooManyRequestsException": RateLimitError,
    "ValidationException": BadRequestError,
    "ModelTimeoutException": BackendTimeoutError,
    "InternalServerException": ServerError,
    "ServiceUnavailableException": ServerError,
    "ModelStreamErrorException": ServerError,
    "ModelNotReadyException": ServerError,
    "ModelErrorException": ServerError,
}
_ERRORS_BY_STATUS: dict[int, type[BackendError]] = {
    401: AuthError,
    403: AuthError,
    404: NotFoundError,
    408: BackendTimeoutError,
    429: RateLimitError,
    400: BadRequestError,
}


class BedrockOptions(BackendOptions):
    """Where and as whom to call Bedrock; credentials come from boto3's own chain."""

    region: str = Field(
        default="", description="AWS region, e.g. us-east-1 (empty: the profile's or AWS_REGION)"
    )
    profile: str = Field(
        default="",
        description="AWS profile from ~/.aws/config (empty: the default credential chain)",
    )
    endpoint_url: str = Field(
        default="",
        description="Custom endpoint (VPC endpoint, proxy, local test server); empty: AWS's",
    )
    default_model: str = Field(default="", description="Model ID used when a run names none")
    streaming: bool = Field(default=True, description="Use ConverseStream")
    top_k_field: str = Field(
        default="top_k",
        description="The model's own name for top-k in additionalModelRequestFields ('top_k' "
        "for Anthropic and Mistral models); empty: top_k is not sent",
    )
    connect_timeout: float = Field(default=10.0, gt=0, le=300)
    read_timeout: float = Field(default=120.0, gt=0, le=3600)
    max_retries: int = Field(
        default=2, ge=0, le=10, description="boto3's retries (standard mode) on throttling and 5xx"
    )
    capability_overrides: dict[str, ParamCapability] = Field(default_factory=dict)
    batch_s3_uri: str = Field(
        default="",
        description="s3://bucket/prefix where batch jobs' input and output files go (empty: "
        "no batch jobs)",
    )
    batch_role_arn: str = Field(
        default="",
        description="ARN of the IAM service role Bedrock assumes to read and write batch_s3_uri",
    )
    batch_timeout_hours: int = Field(
        default=24, ge=24, le=168, description="How long a batch job may run before it expires"
    )
    s3_endpoint_url: str = Field(
        default="",
        description="Custom S3 endpoint for batch files (VPC endpoint, local test server); "
        "empty: AWS's",
    )

    @field_validator("capability_overrides")
    @classmethod
    def _known_params(cls, value: dict[str, Any]) -> dict[str, Any]:
        return check_param_names(value)


def _boto3() -> Any:
    try:
        import boto3
    except ImportError:
        raise KnownError(
            "the Bedrock backend needs boto3, which is not installed",
            hint="install the extra: pip install 'prompt-workbench[bedrock]'",
        ) from None
    return boto3


@dataclass(frozen=True)
class _Plan:
    kwargs: dict[str, Any]
    model: str
    answer_tool: str | None = None  # the forced tool whose input is the answer


class _Abort:
    """Shuts the socket of the response being read when the run is cancelled.

    botocore hands the raw urllib3 response to ``before-parse`` hooks; the hook, running in the
    calling thread, files it here so a cancel from another thread can wake the blocked read."""

    local = threading.local()

    def __init__(self, cancel: CancelToken) -> None:
        self._lock = threading.Lock()
        self._body: Any = None
        self._cancel = cancel
        self._forget = cancel.on_cancel(self.shutdown)

    def __enter__(self) -> _Abort:
        self.local.current = self
        return self

    def __exit__(self, *exc: object) -> None:
        self.local.current = None
        self._forget()

    def attach(self, body: Any) -> None:
        with self._lock:
            self._body = body
        if self._cancel.cancelled:
            self.shutdown()

    def shutdown(self) -> None:
        with self._lock:
            body = self._body
        connection = getattr(body, "connection", None)
        sock = getattr(connection, "sock", None)
        if not isinstance(sock, socket.socket):
            # http.client lets go of the socket of a body that ends when the connection closes;
            # urllib3 (2.3+) keeps that socket's bound shutdown.
            sock = getattr(getattr(body, "_sock_shutdown", None), "__self__", None)
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _capture_body(response_dict: dict[str, Any], **_: Any) -> None:
    abort = getattr(_Abort.local, "current", None)
    if abort is not None:
        abort.attach(response_dict.get("body"))


class BedrockBackend(PlannedBackend[_Plan]):
    id = "bedrock"
    display_name = "Amazon Bedrock"
    Options = BedrockOptions

    def __init__(self, options: BedrockOptions | None = None) -> None:
        super().__init__(options)
        self.options: BedrockOptions
        self._lock = threading.Lock()
        self._clients: dict[str, Any] = {}

    def model_capabilities(self, model: str) -> Capabilities:
        """A thinking budget only for Anthropic's Claude 3.7 Sonnet and Claude 4 models."""
        model = model or self.options.default_model
        return narrowed(self._table(), model, self.options.capability_overrides,
                        budget=takes_thinking_budget(model))

    def capabilities(self) -> Capabilities:
        return self._table().with_overrides(self.options.capability_overrides)

    def _table(self) -> Capabilities:
        """What Converse carries, before the user's overrides."""
        table = Capabilities.supporting(
            "top_p",
            "max_tokens",
            temperature=ParamCapability(minimum=0, maximum=1),
            stop=ParamCapability(note="sent as inferenceConfig.stopSequences"),
            top_logprobs=ParamCapability(
                supported=False, note="Bedrock's API returns no token probabilities"
            ),
            thinking_budget=ParamCapability(
                minimum=MIN_THINKING_BUDGET,
                note="Anthropic models' extended thinking: sent as "
                "additionalModelRequestFields.thinking, below max_tokens",
            ),
        )
        if self.options.top_k_field:
            table = table.with_overrides(
                {
                    "top_k": ParamCapability(
                        note=f"model-specific: sent as additionalModelRequestFields."
                        f"{self.options.top_k_field}"
                    )
                }
            )
        return table.with_formats(
            json_object=ParamCapability(note="a forced tool whose input is any object"),
            json_schema=ParamCapability(note="a forced tool whose input schema is the schema"),
        ).with_tools("toolConfig; calls and results as toolUse and toolResult blocks").with_vision(
            "image blocks with their bytes, for models that take images"
        )

    def version(self) -> str:
        try:
            import botocore
        except ImportError:
            return ""
        return f"botocore {botocore.__version__}"

    def _client(self, service: str, *, retries: bool = True) -> Any:
        """The boto3 client of ``service``; ``retries=False``: one that sends each call once
        (a call that creates something paid for, as a batch job)."""
        key = service if retries else f"{service} once"
        with self._lock:
            if key not in self._clients:
                self._clients[key] = self._make_client(service, retries)
            return self._clients[key]

    def _make_client(self, service: str, retries: bool = True) -> Any:
        boto3 = _boto3()
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError, NoRegionError, ProfileNotFound

        opts = self.options
        endpoint = opts.s3_endpoint_url if service == "s3" else opts.endpoint_url
        # A custom S3 endpoint takes the bucket in the path (it has no bucket subdomains).
        s3 = {"addressing_style": "path"} if service == "s3" and endpoint else None
        try:
            session = boto3.Session(
                profile_name=opts.profile or None, region_name=opts.region or None
            )
            client = session.client(
                service,
                endpoint_url=endpoint or None,
                config=Config(
                    connect_timeout=opts.connect_timeout,
                    read_timeout=opts.read_timeout,
                    retries={"total_max_attempts": opts.max_retries + 1 if retries else 1,
                             "mode": "standard"},
                    user_agent_extra="prompt-workbench",
                    s3=s3,
                ),
            )
        except ProfileNotFound:
            raise KnownError(
                f"AWS profile '{opts.profile}' not found",
                hint="check the profile name in ~/.aws/config",
            ) from None
        except NoRegionError:
            raise KnownError(
                "no AWS region for Bedrock",
                hint="set the region in the Bedrock settings, AWS_REGION, or the profile",
            ) from None
        except BotoCoreError as err:
            raise KnownError(f"cannot set up the Bedrock client: {redact(str(err))}") from None
        client.meta.events.register(f"before-parse.{service}.ConverseStream", _capture_body)
        return client

    def close(self) -> None:
        with self._lock:
            clients, self._clients = self._clients, {}
        for client in clients.values():
            client.close()

    def list_models(self) -> list[ModelInfo]:
        client = self._client("bedrock")
        try:
            data = client.list_foundation_models(byOutputModality="TEXT")
        except Exception as err:
            raise self._error(err, "") from None
        return sorted(
            (
                ModelInfo(
                    id=m["modelId"],
                    description=f"{m.get('providerName', '')} {m.get('modelName', '')}".strip(),
                )
                for m in data.get("modelSummaries", [])
            ),
            key=lambda m: m.id,
        )

    def _prepare(self, request: RunRequest) -> tuple[SentRequest, _Plan]:
        system, turns = chat_turns(request, "Bedrock's Converse API")
        model = chosen_model(request, self.options.default_model, "a Bedrock model ID")
        self._client("bedrock-runtime")  # a missing boto3 or profile fails before anything is sent
        capabilities = self.model_capabilities(model)
        sent, ignored = capabilities.split(request.params)
        response_format, dropped = capabilities.split_format(request.response_format)
        tools, tool_choice, unsent_tools = capabilities.split_tools(request)
        ignored = {**ignored, **dropped, **unsent_tools}
        if tools and response_format is not None:
            raise ParameterError(
                "Bedrock cannot take tools and a response format at once (the format is a "
                "forced tool)", hint="set the template's response_format to text"
            )
        thinking = anthropic_thinking(
            sent, ignored, forced_tool=response_format is not None, api="Bedrock's Converse API"
        )
        inference = {_INFERENCE[k]: v for k, v in sent.items() if k in _INFERENCE}
        kwargs: dict[str, Any] = {
            "modelId": model,
            "messages": bedrock_messages(turns),
        }
        if system:
            kwargs["system"] = [{"text": text} for text in system]
        if inference:
            kwargs["inferenceConfig"] = inference
        extra: dict[str, Any] = {}
        if "top_k" in sent:
            extra[self.options.top_k_field] = sent["top_k"]
        if thinking is not None:
            extra["thinking"] = thinking
        if extra:
            kwargs["additionalModelRequestFields"] = extra
        if response_format is not None:
            kwargs["toolConfig"] = bedrock_forced_tool(response_format)
        if tool_config := bedrock_tool_config(tools, tool_choice):
            kwargs["toolConfig"] = tool_config
        record = SentRequest(
            backend=self.id,
            backend_version=self.version(),
            model=model,
            messages=request.messages,
            sent_params=sent,
            ignored_params=ignored,
            response_format=response_format,
            tools=tools,
            tool_choice=tool_choice,
        )
        tool = None if response_format is None else response_format.name
        return record, _Plan(kwargs, model, tool)

    def _exchange(
        self, plan: _Plan, recorder: RunRecorder, cancel: CancelToken
    ) -> Generator[StreamEvent, None, FinishReason]:
        client = self._client("bedrock-runtime")
        import urllib3.exceptions
        from botocore.eventstream import ParserError

        with _Abort(cancel):
            try:
                if not self.options.streaming:
                    whole = client.converse(**plan.kwargs)
                    return _answered(plan, (yield from self._whole(whole, recorder, plan)))
                response = client.converse_stream(**plan.kwargs)
                stream = response["stream"]
                try:
                    finish = yield from self._events(stream, recorder, cancel, plan)
                    return _answered(plan, finish)
                finally:
                    stream.close()
            except RunCancelled:
                raise
            except (urllib3.exceptions.HTTPError, ParserError) as err:
                if cancel.cancelled:
                    raise RunCancelled from None
                raise ProtocolError(
                    f"the Bedrock stream broke off: {redact(str(err))}",
                    hint="the partial text is kept",
                ) from None
            except Exception as err:
                if cancel.cancelled:
                    raise RunCancelled from None
                raise self._error(err, plan.model) from None

    def _events(
        self, stream: Any, recorder: RunRecorder, cancel: CancelToken, plan: _Plan
    ) -> Generator[StreamEvent, None, FinishReason]:
        finish: FinishReason | None = None
        answer_blocks: set[int] = set()  # content blocks that are calls of the answer tool
        calls: dict[int, int] = {}  # content block -> its tool call's position
        for event in stream:
            if cancel.cancelled:
                raise RunCancelled
            if "contentBlockStart" in event:
                start = event["contentBlockStart"]
                tool = start.get("start", {}).get("toolUse") or {}
                index = start.get("contentBlockIndex", 0)
                if plan.answer_tool is not None and tool.get("name") == plan.answer_tool:
                    answer_blocks.add(index)
                elif tool:
                    calls[index] = len(calls)
                    yield recorder.tool_call(
                        calls[index], tool.get("toolUseId", ""), tool.get("name", ""), ""
                    )
            elif "contentBlockDelta" in event:
                block = event["contentBlockDelta"]
                delta = block.get("delta", {})
                thought = (delta.get("reasoningContent") or {}).get("text")
                if thought:
                    yield recorder.reasoning(thought)
                if plan.answer_tool is None:
                    text = delta.get("text")
                elif block.get("contentBlockIndex", 0) in answer_blocks:
                    text = (delta.get("toolUse") or {}).get("input")
                else:
                    text = None
                if text:
                    yield recorder.text(text)
                arguments = (delta.get("toolUse") or {}).get("input")
                if arguments and block.get("contentBlockIndex", 0) in calls:
                    position = calls[block.get("contentBlockIndex", 0)]
                    yield recorder.tool_call(position, "", "", arguments)
            elif "messageStop" in event:
                finish = _FINISH.get(event["messageStop"].get("stopReason", ""), "other")
            elif "metadata" in event:
                recorder.usage = _usage(event["metadata"].get("usage"))
                yield UsageUpdate(usage=recorder.usage)
        if cancel.cancelled:
            raise RunCancelled
        if finish is None:
            raise ProtocolError(
                "the Bedrock stream ended before messageStop",
                hint="the connection closed early; the partial text is kept",
            )
        return finish

    def _whole(
        self, data: dict[str, Any], recorder: RunRecorder, plan: _Plan
    ) -> Generator[StreamEvent, None, FinishReason]:
        blocks = data.get("output", {}).get("message", {}).get("content", [])
        thought = "".join(
            ((b.get("reasoningContent") or {}).get("reasoningText") or {}).get("text", "")
            for b in blocks
        )
        if thought:
            yield recorder.reasoning(thought)
        if plan.answer_tool is None:
            text = "".join(b.get("text", "") for b in blocks)
        else:
            calls = [b["toolUse"] for b in blocks if isinstance(b.get("toolUse"), dict)]
            text = "".join(json.dumps(c.get("input"), ensure_ascii=False) for c in calls
                           if c.get("name") == plan.answer_tool)
        if text:
            yield recorder.whole(text)
        called = [b["toolUse"] for b in blocks if isinstance(b.get("toolUse"), dict)
                  and b["toolUse"].get("name") != plan.answer_tool]
        for position, call in enumerate(called):
            arguments = dumps(call.get("input") or {})
            yield recorder.tool_call(position, call.get("toolUseId", ""), call.get("name", ""),
                                     arguments)
        recorder.usage = _usage(data.get("usage"))
        yield UsageUpdate(usage=recorder.usage)
        return _FINISH.get(data.get("stopReason", ""), "other")

    def _error(self, err: BaseException, model: str) -> KnownError:
        """A fixable error for anything boto3 raised."""
        from botocore import exceptions as bx

        region = self.options.region or "the default region"
        if isinstance(err, KnownError):
            return err
        if isinstance(err, bx.ClientError):
            info = err.response.get("Error", {})
            code = str(info.get("Code", ""))
            code = code[:1].upper() + code[1:]  # event-stream exceptions are lowerCamelCase
            message = redact(str(info.get("Message", "")))
            status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            cls = _ERRORS_BY_CODE.get(code) or status_error(status)
            hint = {
                AuthError: f"check the AWS credentials ({self._who()}) and that model access "
                f"is granted in {region}",
                NotFoundError: f"check the model ID '{model}' and that it exists in {region}",
                RateLimitError: "lower the concurrency or requests per minute",
            }.get(cls, "")
            return cls(f"Bedrock {code or status}: {message}", hint=hint)
        if isinstance(err, bx.NoCredentialsError | bx.PartialCredentialsError):
            return AuthError(
                "no AWS credentials found for Bedrock",
                hint=f"configure {self._who()} (aws configure, AWS_PROFILE or "
                "the AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY variables)",
            )
        if isinstance(err, bx.ConnectTimeoutError):
            return BackendTimeoutError(
                f"could not connect to {err.kwargs.get('endpoint_url', 'Bedrock')} within "
                f"{self.options.connect_timeout:g} s"
            )
        if isinstance(err, bx.ReadTimeoutError):
            return BackendTimeoutError(
                f"{err.kwargs.get('endpoint_url', 'Bedrock')} sent nothing for "
                f"{self.options.read_timeout:g} s (read timeout)",
                hint="raise read_timeout for a slow model",
            )
        if isinstance(err, bx.SSLError):
            return ConnectError(
                f"TLS failed with {err.kwargs.get('endpoint_url', 'Bedrock')}: "
                f"{redact(str(err.kwargs.get('error', err)))}"
            )
        if isinstance(err, bx.EndpointConnectionError):
            return ConnectError(
                f"nothing is answering at {err.kwargs.get('endpoint_url')}",
                hint="check the region, endpoint_url and your network",
            )
        if isinstance(err, bx.BotoCoreError):
            return BackendError(f"Bedrock: {redact(str(err))}")
        raise err

    def _who(self) -> str:
        return (
            f"profile '{self.options.profile}'"
            if self.options.profile
            else "the default AWS credential chain"
        )


def status_error(status: int) -> type[BackendError]:
    """The error an HTTP status from Bedrock is (also a batch record's ``errorCode``)."""
    return _ERRORS_BY_STATUS.get(status) or (ServerError if status >= 500 else BackendError)


def _answered(plan: _Plan, finish: FinishReason) -> FinishReason:
    """A call of the forced answer tool is the whole answer, a plain stop, not a tool call
    waiting for its result."""
    return "stop" if plan.answer_tool is not None and finish == "tool_calls" else finish


def _usage(data: Any) -> Usage:
    if not isinstance(data, dict):
        return Usage()
    prompt, completion = data.get("inputTokens"), data.get("outputTokens")
    return Usage(
        input_tokens=prompt if isinstance(prompt, int) else None,
        output_tokens=completion if isinstance(completion, int) else None,
    )
