"""Anthropic's Messages API over the shared HTTP policy.

The system prompt travels apart from the messages, ``max_tokens`` is required (a default is sent
and recorded when a run sets none), stop strings are ``stop_sequences``, and a stream is a series
of named SSE events: message_start, content_block_delta, message_delta, message_stop (and error).

Tools are declared with ``input_schema``; a call streams as a ``tool_use`` block start and its
``input_json_delta`` pieces. A response format is a forced tool (``backends.structured``): the
tool's input, streamed as ``input_json_delta`` pieces, is the answer, and the ``tool_use`` stop
that ends it is a plain stop.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from pydantic import Field, field_validator

from workbench.backends import credentials
from workbench.backends.base import CancelToken, ModelInfo, StreamEvent, UsageUpdate
from workbench.backends.http import HttpClient, HttpOptions, StreamResponse, http_base_url
from workbench.backends.http_errors import mid_stream_error
from workbench.backends.messages import (
    MIN_THINKING_BUDGET,
    anthropic_thinking,
    chat_turns,
    chosen_model,
)
from workbench.backends.reasoning import narrowed, takes_thinking_budget
from workbench.backends.recording import PlannedBackend, RunRecorder, answered_apart
from workbench.backends.structured import anthropic_forced_tool
from workbench.backends.tool_wire import anthropic_messages, anthropic_tools, dumps
from workbench.core.errors import (
    AuthError,
    BackendError,
    BadRequestError,
    NotFoundError,
    ParameterError,
    ProtocolError,
    RateLimitError,
    ServerError,
)
from workbench.core.models import (
    FinishReason,
    RunRequest,
    RunResult,
    SentRequest,
    Usage,
)
from workbench.core.params import Capabilities, ParamCapability, check_param_names

CAPABILITIES = Capabilities.supporting(
    "top_p",
    "top_k",
    "max_tokens",
    temperature=ParamCapability(minimum=0, maximum=1),
    stop=ParamCapability(note="sent as stop_sequences"),
    top_logprobs=ParamCapability(
        supported=False, note="Anthropic's API returns no token probabilities"
    ),
    thinking_budget=ParamCapability(
        minimum=MIN_THINKING_BUDGET,
        note="extended thinking: sent as thinking.budget_tokens, below max_tokens",
    ),
    reasoning_effort=ParamCapability(
        supported=False, note="Anthropic takes a thinking budget in tokens, not an effort level"
    ),
).with_formats(
    json_object=ParamCapability(note="a forced tool whose input is any object"),
    json_schema=ParamCapability(note="a forced tool whose input schema is the schema"),
).with_tools("tool_use blocks; results go back as tool_result blocks").with_vision(
    "base64 image blocks; width × height / 750 tokens each"
)
_WIRE = {"stop": "stop_sequences"}
#: ``max_tokens`` sent when a run sets none (the Messages API requires one).
DEFAULT_MAX_TOKENS = 1024

_FINISH: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
_STREAM_ERRORS: dict[str, type[BackendError]] = {
    "overloaded_error": ServerError,
    "api_error": ServerError,
    "rate_limit_error": RateLimitError,
    "authentication_error": AuthError,
    "permission_error": AuthError,
    "invalid_request_error": BadRequestError,
    "not_found_error": NotFoundError,
}


class AnthropicOptions(HttpOptions):
    """Settings for Anthropic's API (or a gateway that speaks it)."""

    base_url: str = Field(
        default="https://api.anthropic.com", description="The API root, without /v1"
    )
    default_model: str = Field(default="", description="Model used when a run names none")
    anthropic_version: str = Field(
        default="2023-06-01", description="Sent as the anthropic-version header"
    )
    default_max_tokens: int = Field(
        default=DEFAULT_MAX_TOKENS,
        ge=1,
        description="Sent when a run sets no max_tokens: the Messages API requires one",
    )
    streaming: bool = Field(default=True, description="Stream the answer as it is generated")
    api_key_name: str = Field(
        default="anthropic", description="Keyring entry (service 'prompt-workbench') with the key"
    )
    api_key_env: str = Field(
        default="ANTHROPIC_API_KEY", description="Environment variable with the key"
    )
    capability_overrides: dict[str, ParamCapability] = Field(
        default_factory=dict, description="Corrections for a gateway that differs"
    )

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return http_base_url(value)

    @field_validator("capability_overrides")
    @classmethod
    def _known_params(cls, value: dict[str, Any]) -> dict[str, Any]:
        return check_param_names(value)


@dataclass(frozen=True)
class _Plan:
    body: dict[str, Any]
    headers: dict[str, str]
    model: str
    answer_tool: str | None = None  # the forced tool whose input is the answer


class AnthropicBackend(PlannedBackend[_Plan]):
    id = "anthropic"
    display_name = "Anthropic"
    Options = AnthropicOptions

    def __init__(
        self, options: AnthropicOptions | None = None, *, api_key: str | None = None
    ) -> None:
        super().__init__(options)
        self.options: AnthropicOptions
        self._key = credentials.KeyHolder(
            credentials.KeyRef(self.options.api_key_name, self.options.api_key_env), api_key
        )
        self._http = HttpClient.keyed(self.options, "Anthropic", self.options.base_url, self._key)

    def capabilities(self) -> Capabilities:
        return self._table.with_overrides(self.options.capability_overrides)

    def model_capabilities(self, model: str) -> Capabilities:
        """A thinking budget only for Claude 3.7 Sonnet and the Claude 4 family."""
        model = model or self.options.default_model
        return narrowed(self._table, model, self.options.capability_overrides,
                        budget=takes_thinking_budget(model))

    @property
    def _table(self) -> Capabilities:
        return CAPABILITIES.with_defaults({"max_tokens": self.options.default_max_tokens})

    def default_max_tokens(self) -> int | None:
        return self.options.default_max_tokens

    def version(self) -> str:
        return f"anthropic-version {self.options.anthropic_version}"

    def close(self) -> None:
        self._http.close()

    def _headers(self) -> dict[str, str]:
        headers = {"anthropic-version": self.options.anthropic_version}
        credential = self._key.required(self.options.base_url)  # none: a keyless local proxy
        return {"x-api-key": credential.value, **headers} if credential else headers

    def list_models(self) -> list[ModelInfo]:
        data = self._http.request_json(
            "GET", f"{self.options.base_url}/v1/models?limit=1000", headers=self._headers()
        )
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise ProtocolError(f"{self.options.base_url}/v1/models did not list models")
        return sorted(
            (
                ModelInfo(id=item["id"], description=str(item.get("display_name") or ""))
                for item in items
                if isinstance(item, dict) and isinstance(item.get("id"), str)
            ),
            key=lambda m: m.id,
        )

    def _prepare(self, request: RunRequest) -> tuple[SentRequest, _Plan]:
        headers = self._headers()  # a missing key is said first, before anything is sent
        model = chosen_model(request, self.options.default_model, "an Anthropic model")
        record, body = messages_body(
            request,
            model,
            self.model_capabilities(model),
            self.options.default_max_tokens,
            api="Anthropic",
        )
        body = {"model": model, **body}
        if self.options.streaming:
            body["stream"] = True
        record = record.model_copy(update={"backend": self.id, "backend_version": self.version()})
        tool = record.response_format.name if record.response_format is not None else None
        return record, _Plan(body, headers, model, tool)

    def _exchange(
        self, plan: _Plan, recorder: RunRecorder, cancel: CancelToken
    ) -> Generator[StreamEvent, None, FinishReason]:
        url = f"{self.options.base_url}/v1/messages"
        with self._http.stream(
            "POST", url, headers=plan.headers, json_body=plan.body, cancel=cancel, model=plan.model
        ) as response:
            if response.content_type == "application/json":
                finish = yield from self._whole(response.json(), recorder, url, plan.answer_tool)
            else:
                finish = yield from self._events(response, recorder, plan.answer_tool)
        return _settled(finish, plan.answer_tool)

    def batch_params(self, request: RunRequest) -> tuple[SentRequest, dict[str, Any]]:
        """What a Message Batches entry carries for ``request`` (``params``): the body a live
        run sends, unstreamed, so a batched cell asks exactly what a live one asks."""
        sent, plan = self._prepare(request)
        return sent, {k: v for k, v in plan.body.items() if k != "stream"}

    def message_result(self, sent: SentRequest, message: Any, url: str) -> RunResult:
        """A whole answer that arrived apart from a live run: :func:`message_result`."""
        return message_result(sent, message, url)

    def _events(
        self, response: StreamResponse, recorder: RunRecorder, answer_tool: str | None
    ) -> Generator[StreamEvent, None, FinishReason]:
        finish: FinishReason = "other"
        usage = Usage()
        answer_blocks: set[int] = set()  # content blocks that are calls of the answer tool
        calls: dict[int, int] = {}  # content block -> its tool call's position
        for event in response.events():
            kind = event.event
            if kind == "ping":
                continue
            try:
                data = json.loads(event.data)
                if kind == "content_block_delta":
                    delta = data["delta"]
                    if delta.get("type") == "thinking_delta":
                        if delta.get("thinking"):
                            yield recorder.reasoning(delta["thinking"])
                    elif answer_tool is None:
                        if delta.get("type") == "text_delta" and delta.get("text"):
                            yield recorder.text(delta["text"])
                    elif data["index"] in answer_blocks and delta.get("partial_json"):
                        yield recorder.text(delta["partial_json"])
                    if data["index"] in calls and delta.get("partial_json"):
                        yield recorder.tool_call(
                            calls[data["index"]], "", "", delta["partial_json"]
                        )
                elif kind == "content_block_start":
                    block = data["content_block"]
                    if block.get("type") == "tool_use" and block.get("name") == answer_tool:
                        answer_blocks.add(data["index"])
                    elif block.get("type") == "tool_use":
                        calls[data["index"]] = len(calls)
                        yield recorder.tool_call(len(calls) - 1, block["id"], block["name"], "")
                    elif block.get("type") == "text" and block.get("text") and not answer_tool:
                        yield recorder.text(block["text"])  # a block may start with its text
                elif kind == "message_start":
                    start = data["message"].get("usage") or {}
                    usage = Usage(input_tokens=start.get("input_tokens"))
                elif kind == "message_delta":
                    reason = (data.get("delta") or {}).get("stop_reason")
                    if reason:
                        finish = _FINISH.get(reason, "other")
                    count = (data.get("usage") or {}).get("output_tokens")
                    if isinstance(count, int):
                        usage = Usage(input_tokens=usage.input_tokens, output_tokens=count)
                        recorder.usage = usage
                        yield UsageUpdate(usage=usage)
                elif kind == "message_stop":
                    return finish
                elif kind == "error":
                    raise _stream_error(data, response.url)
            except (ValueError, KeyError, TypeError, AttributeError):
                raise ProtocolError(
                    f"malformed {kind} event from {response.url}: "
                    f"{credentials.redact(event.data[:120])!r}"
                ) from None
        raise ProtocolError(
            f"the stream from {response.url} ended before message_stop",
            hint="the connection closed early; the partial text is kept",
        )

    @staticmethod
    def _whole(
        data: Any, recorder: RunRecorder, url: str, answer_tool: str | None
    ) -> Generator[StreamEvent, None, FinishReason]:
        try:
            thought = "".join(
                block.get("thinking", "") for block in data["content"]
                if block.get("type") == "thinking"
            )
            if answer_tool is None:
                text = "".join(
                    block.get("text", "") for block in data["content"]
                    if block.get("type") == "text"
                )
            else:
                text = "".join(
                    json.dumps(block["input"], ensure_ascii=False) for block in data["content"]
                    if block.get("type") == "tool_use" and block.get("name") == answer_tool
                )
            usage = data.get("usage") or {}
            recorder.usage = Usage(
                input_tokens=usage.get("input_tokens"), output_tokens=usage.get("output_tokens")
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ProtocolError(f"{url} answered without message content") from None
        if thought:
            yield recorder.reasoning(thought)
        if text:
            yield recorder.whole(text)
        try:
            called = [
                block for block in data["content"]
                if block.get("type") == "tool_use" and block.get("name") != answer_tool
            ]
            for position, block in enumerate(called):
                arguments = dumps(block.get("input") or {})
                yield recorder.tool_call(position, block["id"], block["name"], arguments)
        except (KeyError, TypeError, AttributeError):
            raise ProtocolError(f"{url} sent an unreadable tool_use block") from None
        yield UsageUpdate(usage=recorder.usage)
        return _FINISH.get(data.get("stop_reason") or "", "other")


def messages_body(
    request: RunRequest,
    model: str,
    capabilities: Capabilities,
    default_max_tokens: int,
    *,
    api: str,
) -> tuple[SentRequest, dict[str, Any]]:
    """The Messages API body of ``request`` for ``model`` without ``model`` and ``stream``
    (Anthropic's API adds both; Bedrock's InvokeModel body has neither), and the record of
    what it sends (its ``backend`` fields are the caller's to set). ``api`` names the API in
    refusals."""
    system, turns = chat_turns(request, f"{api}'s Messages API")
    sent, ignored = capabilities.split(request.params)
    response_format, dropped = capabilities.split_format(request.response_format)
    tools, tool_choice, unsent_tools = capabilities.split_tools(request)
    ignored = {**ignored, **dropped, **unsent_tools}
    if tools and response_format is not None:
        raise ParameterError(
            f"{api} cannot take tools and a response format at once (the format is a "
            "forced tool)", hint="set the template's response_format to text"
        )
    sent.setdefault("max_tokens", default_max_tokens)
    thinking = anthropic_thinking(
        sent, ignored, forced_tool=response_format is not None, api=api
    )
    body: dict[str, Any] = {"messages": anthropic_messages(turns)}
    if joined := "\n\n".join(system):
        body["system"] = joined
    for name, value in sent.items():
        if name != "thinking_budget":
            body[_WIRE.get(name, name)] = value
    if thinking is not None:
        body["thinking"] = thinking
    if response_format is not None:
        body.update(anthropic_forced_tool(response_format))
    body.update(anthropic_tools(tools, tool_choice))
    record = SentRequest(
        backend="anthropic",
        model=model,
        messages=request.messages,
        sent_params=sent,
        ignored_params=ignored,
        seed=None,
        response_format=response_format,
        tools=tools,
        tool_choice=tool_choice,
    )
    return record, body


def message_result(sent: SentRequest, message: Any, url: str) -> RunResult:
    """A whole Messages API answer that arrived apart from a live run (a batch's result, from
    Anthropic or Bedrock) as that run's result; it has no timings of its own, and an unreadable
    one is a failed result (the other lines still land)."""
    answer_tool = sent.response_format.name if sent.response_format is not None else None

    def read(recorder: RunRecorder) -> Generator[StreamEvent, None, FinishReason]:
        finish = yield from AnthropicBackend._whole(message, recorder, url, answer_tool)
        return _settled(finish, answer_tool)

    return answered_apart(sent, read)


def _settled(finish: FinishReason, answer_tool: str | None) -> FinishReason:
    """The forced tool's call is the whole answer, not a call waiting for a result."""
    return "stop" if answer_tool and finish == "tool_calls" else finish


def error_class(kind: str) -> type[BackendError]:
    """The error an Anthropic error ``type`` (``overloaded_error``…) is."""
    return _STREAM_ERRORS.get(kind, BackendError)


def _stream_error(data: Any, url: str) -> BackendError:
    error = data.get("error") if isinstance(data, dict) else None
    kind = error.get("type", "") if isinstance(error, dict) else ""
    message = error.get("message", "") if isinstance(error, dict) else ""
    cls = error_class(kind)
    return mid_stream_error(
        cls,
        f"Anthropic reported {kind or 'an error'} mid-stream ({url}): "
        f"{credentials.redact(str(message))}",
    )
