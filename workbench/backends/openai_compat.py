"""Any OpenAI-compatible server: OpenAI, vLLM, llama.cpp's server, Ollama's /v1, LM Studio, TGI…

Chat (``/chat/completions``) and completions (``/completions``) endpoints, streamed over SSE or
not. Standard OpenAI parameters go by their names; sampling knobs the OpenAI API lacks (top_k,
min_p, repetition_penalty) are sent as extra body fields, which vLLM, llama.cpp and TGI honour.
A server that ignores or renames one is described by per-server capability overrides and wire
names, so results record what the server really received.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from workbench.backends import credentials
from workbench.backends.base import CancelToken, ModelInfo, StreamEvent, UsageUpdate
from workbench.backends.http import StreamResponse, http_base_url
from workbench.backends.http_errors import (
    ErrorContext,
    error_detail,
    mid_stream_error,
    status_error,
)
from workbench.backends.openai_logprobs import (
    chat_logprobs,
    completion_logprobs,
    request_fields,
)
from workbench.backends.pool import PoolOptions, ServerPool, Servers
from workbench.backends.reasoning import narrowed, takes_effort
from workbench.backends.recording import PlannedBackend, RunRecorder, answered_apart
from workbench.backends.structured import openai_response_format, schema_of
from workbench.backends.think import Piece, ThinkSplitter, split_think
from workbench.backends.tool_wire import openai_tools
from workbench.core.errors import (
    BackendError,
    BadRequestError,
    KnownError,
    ProtocolError,
    ServerError,
)
from workbench.core.models import (
    FinishReason,
    RenderedMessage,
    RunRequest,
    RunResult,
    SentRequest,
    Usage,
)
from workbench.core.params import Capabilities, ParamCapability, check_param_names

#: In the OpenAI API itself.
STANDARD_PARAMS = (
    "temperature",
    "top_p",
    "max_tokens",
    "stop",
    "presence_penalty",
    "frequency_penalty",
    "seed",
    "n",
)
#: Not in the OpenAI API: sent as extra body fields for the servers that accept them.
EXTENSION_PARAMS = ("top_k", "min_p", "repetition_penalty")

_EXTENSION = ParamCapability(
    note="extension: sent as an extra body field (vLLM, llama.cpp, "
    "TGI); OpenAI itself rejects it, so mark it unsupported there"
)
CHAT_CAPABILITIES = Capabilities.supporting(
    "top_p",
    "max_tokens",
    "presence_penalty",
    "frequency_penalty",
    temperature=ParamCapability(minimum=0, maximum=2),
    stop=ParamCapability(note="OpenAI accepts up to 4 stop sequences"),
    seed=ParamCapability(note="best effort: same seed and parameters usually repeat an answer"),
    n=ParamCapability(maximum=1, note="a result holds one answer: use repeats for several"),
    top_logprobs=ParamCapability(
        maximum=20, note="when the server returns them (OpenAI, vLLM, llama-cpp-python do)"
    ),
    reasoning_effort=ParamCapability(
        note="sent as reasoning_effort, for OpenAI's reasoning models (o-series, gpt-5, gpt-oss)"
    ),
    thinking_budget=ParamCapability(
        supported=False, note="OpenAI-compatible servers take an effort level, not a budget"
    ),
    **dict.fromkeys(EXTENSION_PARAMS, _EXTENSION),
).with_formats(
    json_object=ParamCapability(note="response_format json_object"),
    json_schema=ParamCapability(note="response_format json_schema (see the schema_format option)"),
).with_tools(
    "function tools; the server must support them (OpenAI, vLLM, llama-server --jinja)"
).with_vision("image_url content parts (data URLs); a model without vision may still refuse them")
#: The completions endpoint takes no response_format.
COMPLETION_CAPABILITIES = CHAT_CAPABILITIES.with_overrides(
    {
        "best_of": ParamCapability(
            maximum=1, note="completions endpoint only; one answer per result"
        ),
        "reasoning_effort": ParamCapability(
            supported=False, note="the completions endpoint takes no reasoning effort"
        ),
    }
    ).model_copy(update={"response_formats": {}}).with_tools(
    "the completions endpoint takes no tools", supported=False
).with_vision("the completions endpoint takes no images", supported=False)

_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}


class OpenAICompatOptions(PoolOptions):
    """Settings for one OpenAI-compatible server."""

    base_url: str = Field(
        default="https://api.openai.com/v1",
        description="The API root, usually ending in /v1 (e.g. http://127.0.0.1:8080/v1)",
    )
    default_model: str = Field(
        default="", description="Model used when a run names none; empty: the server's only model"
    )
    endpoint: Literal["auto", "chat", "completions"] = Field(
        default="auto",
        description="auto: chat templates go to /chat/completions and completion templates to "
        "/completions; chat: a completion prompt is sent as one user message",
    )
    streaming: bool = Field(default=True, description="Stream the answer as it is generated")
    stream_usage: bool = Field(
        default=True,
        description="Ask for token usage at the end of a stream (stream_options.include_usage); "
        "turn off for servers that reject it",
    )
    api_key_name: str = Field(
        default="openai", description="Keyring entry (service 'prompt-workbench') with the key"
    )
    api_key_env: str = Field(
        default="OPENAI_API_KEY", description="Environment variable with the key"
    )
    capability_overrides: dict[str, ParamCapability] = Field(
        default_factory=dict,
        description="Corrections for this server, e.g. top_k unsupported on OpenAI itself",
    )
    schema_format: Literal["json_schema", "json_object_schema"] = Field(
        default="json_schema",
        description="How a response schema is sent: json_schema (OpenAI, vLLM, llama.cpp's "
        "llama-server) or json_object_schema, a json_object with a 'schema' field "
        "(llama-cpp-python's server, which rejects json_schema)",
    )
    think_tags: Literal["start", "open_in_prompt", "off"] = Field(
        default="start",
        description="A local reasoning model's <think> block in the answer text, for servers "
        "that do not split it into reasoning_content themselves: start: a block at the start "
        "is reasoning; open_in_prompt: the chat template opens the tag, so the answer starts "
        "inside it; off: leave the text as it is",
    )
    param_names: dict[str, str] = Field(
        default_factory=dict,
        description="Wire names for this server, e.g. repetition_penalty -> repeat_penalty "
        "(llama-cpp-python) or max_tokens -> max_completion_tokens",
    )
    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return http_base_url(value)

    @field_validator("capability_overrides", "param_names")
    @classmethod
    def _known_params(cls, value: dict[str, Any]) -> dict[str, Any]:
        return check_param_names(value, list_known=True)


@dataclass(frozen=True)
class _Plan:
    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    model: str
    chat: bool


class OpenAICompatBackend(PlannedBackend[_Plan]):
    id = "openai_compat"
    display_name = "OpenAI-compatible server"
    Options = OpenAICompatOptions

    def __init__(
        self, options: OpenAICompatOptions | None = None, *, api_key: str | None = None
    ) -> None:
        super().__init__(options)
        self.options: OpenAICompatOptions
        self._key = credentials.KeyHolder(
            credentials.KeyRef(self.options.api_key_name, self.options.api_key_env), api_key
        )
        self._server_version = ""
        self._only_model = ""
        opts = self.options
        first = (opts.base_urls or [opts.base_url])[0]
        context = ErrorContext(
            service=urlsplit(first).netloc, base_url=first, auth_hint=self._key.hint
        )
        self._servers = Servers(opts, opts.base_url, context, probe_path="/models")

    @property
    def pool(self) -> ServerPool | None:
        """The server pool when ``base_urls`` is set (its figures are per server)."""
        return self._servers.pool

    # --- description ---------------------------------------------------------------------

    def capabilities(self) -> Capabilities:
        chat = self.options.endpoint != "completions"
        table = CHAT_CAPABILITIES if chat else COMPLETION_CAPABILITIES
        return table.with_overrides(self.options.capability_overrides)

    def model_capabilities(self, model: str) -> Capabilities:
        return self._capabilities(self.options.endpoint != "completions", model)

    def _capabilities(self, chat: bool, model: str) -> Capabilities:
        """The endpoint's table for ``model`` (empty: the default model): a reasoning effort
        only for OpenAI's reasoning models (others reject the field), then the overrides."""
        table = CHAT_CAPABILITIES if chat else COMPLETION_CAPABILITIES
        model = model or self.options.default_model
        return narrowed(table, model, self.options.capability_overrides,
                        effort=takes_effort(model))

    def version(self) -> str:
        return self._server_version

    def close(self) -> None:
        self._servers.close()

    def list_models(self) -> list[ModelInfo]:
        data, base_url = self._servers.request_json("GET", "/models", headers=self._auth_headers())
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise ProtocolError(
                f"{base_url}/models did not list models",
                hint="check the base URL points at an OpenAI-compatible API",
            )
        models = []
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                window = item.get("context_length") or item.get("max_model_len")
                models.append(
                    ModelInfo(
                        id=item["id"],
                        context_window=window if isinstance(window, int) else None,
                        description=str(item.get("owned_by") or ""),
                    )
                )
        return sorted(models, key=lambda m: m.id)

    # --- credentials -------------------------------------------------------------------------

    def _auth_headers(self) -> dict[str, str]:
        urls = self._servers.urls
        # None: a keyless local server (a pool: only when every server is local).
        remote = [url for url in urls if credentials.key_required(url)]
        credential = self._key.required(remote[0] if remote else urls[0])
        return {"Authorization": f"Bearer {credential.value}"} if credential else {}

    # --- running ---------------------------------------------------------------------------

    def _model(self, request: RunRequest) -> str:
        model = request.model or self.options.default_model or self._only_model
        if model:
            return model
        ids = [m.id for m in self.list_models()]
        if len(ids) == 1:
            self._only_model = ids[0]  # asked once per backend instance, not per run
            return ids[0]
        offered = ", ".join(ids[:10]) or "none"
        raise KnownError(
            f"choose a model: {self.options.base_url} offers {offered}",
            hint="pass --model or set default_model for this server",
        )

    def _prepare(self, request: RunRequest) -> tuple[SentRequest, _Plan]:
        opts = self.options
        headers = self._auth_headers()  # a missing key is said before any request (a model list)
        chat = request.prompt is None if opts.endpoint == "auto" else opts.endpoint == "chat"
        messages = request.messages
        if chat and request.prompt is not None:
            messages = [RenderedMessage(role="user", content=request.prompt)]
        if not chat and request.prompt is None:
            raise BadRequestError(
                "this server is set to the completions endpoint, which takes one prompt text, "
                "not chat messages",
                hint="use a completion template, or the chat endpoint",
            )
        model = self._model(request)
        capabilities = self._capabilities(chat, model)
        sent, ignored = capabilities.split(request.params)
        response_format, dropped = capabilities.split_format(request.response_format)
        tools, tool_choice, unsent_tools = capabilities.split_tools(request)
        ignored = {**ignored, **dropped, **unsent_tools}
        body: dict[str, Any] = {"model": model}
        if chat:
            body["messages"] = [m.as_openai() for m in messages]
        else:
            body["prompt"] = request.prompt
        names = opts.param_names
        for name, value in sent.items():
            if name == "top_logprobs":
                body.update(request_fields(value, chat))
            else:
                body[names.get(name, name)] = value
        if response_format is not None:
            if response_format.type == "json_schema" and opts.schema_format != "json_schema":
                body["response_format"] = {"type": "json_object",
                                           "schema": schema_of(response_format)}
            else:
                body["response_format"] = openai_response_format(response_format)
        body.update(openai_tools(tools, tool_choice))
        if opts.streaming:
            body["stream"] = True
            if opts.stream_usage:
                body["stream_options"] = {"include_usage": True}
        path = "/chat/completions" if chat else "/completions"
        record = SentRequest(
            backend=self.id,
            backend_version=self._server_version,
            model=model,
            messages=messages if chat else [],
            prompt=None if chat else request.prompt,
            sent_params=sent,
            ignored_params=ignored,
            seed=sent.get("seed"),
            response_format=response_format,
            tools=tools,
            tool_choice=tool_choice,
        )
        return record, _Plan(path, body, headers, model, chat)

    # --- the API beside chat (provider batches: backends/batch_openai.py) -------------------

    def batch_request(self, request: RunRequest) -> tuple[SentRequest, str, dict[str, Any]]:
        """What a Batch API line carries for ``request``: the request recorded with its result,
        the endpoint as a batch names it (``/v1/chat/completions``) and the body a live run
        sends, unstreamed, so a batched cell asks exactly what a live one asks."""
        sent, plan = self._prepare(request)
        body = {k: v for k, v in plan.body.items() if k not in ("stream", "stream_options")}
        return sent, urlsplit(self._servers.base_url).path.rstrip("/") + plan.path, body

    def answer_result(self, sent: SentRequest, data: Any, url: str) -> RunResult:
        """A whole (chat) completion that arrived apart from a live run, a batch's output line,
        as the result of the run ``sent`` records, read by the live backend's own reader."""
        plan = _Plan("", {}, {}, sent.model, sent.prompt is None)
        return answered_apart(sent, lambda recorder: self._whole(data, plan, recorder, url))

    def api(
        self, method: str, path: str, *, cancel: CancelToken | None = None, **kwargs: Any
    ) -> contextlib.AbstractContextManager[StreamResponse]:
        """An exchange with the API at ``path`` under the base URL (files, batches), with this
        backend's key and HTTP policy (keyword arguments as ``HttpClient.stream``)."""
        return self._servers.http.stream(
            method,
            self._servers.base_url + path,
            headers=self._auth_headers(),
            cancel=cancel or CancelToken(),
            **kwargs,
        )

    def api_error(self, status: int, body: Any, url: str) -> BackendError:
        """The error an HTTP ``status`` with ``body`` (JSON) from ``url`` is, as a live call
        would report it."""
        return status_error(status, json.dumps(body).encode(), url, self._servers.http.ctx)

    def _exchange(
        self, plan: _Plan, recorder: RunRecorder, cancel: CancelToken
    ) -> Generator[StreamEvent, None, FinishReason]:
        with self._servers.stream(
            "POST",
            plan.path,
            headers=plan.headers,
            json_body=plan.body,
            cancel=cancel,
            model=plan.model,
        ) as (response, base_url):
            if self.pool is not None:  # which server of the pool answered
                recorder.request = recorder.request.model_copy(update={"server": base_url})
            if response.content_type == "application/json":  # a server that does not stream
                return (yield from self._whole(response.json(), plan, recorder, response.url))
            return (yield from self._events(response, plan, recorder))

    def _events(
        self, response: StreamResponse, plan: _Plan, recorder: RunRecorder
    ) -> Generator[StreamEvent, None, FinishReason]:
        finish: FinishReason | None = None
        done = False
        key = "delta" if plan.chat else None
        text_key = "content" if key else "text"
        read_logprobs = chat_logprobs if plan.chat else completion_logprobs
        decode = _decode_event  # this loop runs once per token: keep lookups out of it
        fingerprint_seen = False
        splitter = self._splitter()
        for event in response.events():
            data = event.data
            if done:
                continue  # read to the end, so the connection can be reused
            if data == "[DONE]":
                done = True
                continue
            try:
                chunk = decode(data)
            except ValueError:
                raise ProtocolError(
                    f"malformed event from {response.url}: {data[:120]!r} is not JSON",
                    hint="the server broke the stream format",
                ) from None
            if not isinstance(chunk, dict):
                raise ProtocolError(f"malformed event from {response.url}: {data[:120]!r}")
            if "error" in chunk:
                raise mid_stream_error(
                    ServerError,
                    f"{response.url} reported an error mid-stream: {error_detail(data.encode())}",
                )
            try:
                for choice in chunk.get("choices") or ():
                    if choice.get("index", 0):
                        continue
                    part = choice.get(key) if key else choice
                    text = part.get(text_key) if part else None
                    if part and key:
                        thought = part.get("reasoning_content") or part.get("reasoning")
                        if thought:
                            splitter = None  # the server splits reasoning itself
                            yield recorder.reasoning(thought)
                        calls = part.get("tool_calls")
                        if calls:
                            yield from _call_pieces(calls, recorder)
                    if text:
                        if splitter is None or splitter.answering:
                            yield recorder.text(text)
                        else:
                            yield from _split(splitter.feed(text), recorder)
                    scored = choice.get("logprobs")
                    if scored:
                        yield recorder.logprobs(read_logprobs(scored))
                    reason = choice.get("finish_reason")
                    if reason:
                        finish = _FINISH.get(reason, "other")
                usage = chunk.get("usage")
                if usage:
                    recorder.usage = _usage(usage)
                    yield UsageUpdate(usage=recorder.usage)
            except (AttributeError, KeyError, TypeError, ValueError):
                raise ProtocolError(
                    f"malformed event from {response.url}: {_preview(chunk)}"
                ) from None
            if not fingerprint_seen:
                fingerprint = chunk.get("system_fingerprint")
                if fingerprint:
                    self._note_version(recorder, fingerprint)
                    fingerprint_seen = True
        if splitter is not None:
            yield from _split(splitter.flush(), recorder)
        if finish is None and not done:
            raise ProtocolError(
                f"the stream from {response.url} ended before the answer was complete "
                "(no finish reason and no [DONE])",
                hint="the server closed the stream early; the partial text is kept",
            )
        answered = recorder.chars or recorder.thought or recorder.called
        if finish is None and not answered:
            raise ProtocolError(
                f"{response.url} ended the stream without an answer or a finish reason",
                hint="a server that serves one request at a time may drop a request when "
                "another arrives (llama.cpp's server does): set this backend's concurrency to 1",
            )
        return finish or "other"

    def _whole(
        self, data: Any, plan: _Plan, recorder: RunRecorder, url: str
    ) -> Generator[StreamEvent, None, FinishReason]:
        try:
            choice = data["choices"][0]
            message = choice["message"] if plan.chat else choice
            text = message["content"] if plan.chat else choice["text"]
        except (KeyError, IndexError, TypeError):
            raise ProtocolError(f"{url} answered without a choice: {_preview(data)}") from None
        thought = message.get("reasoning_content") or message.get("reasoning") or ""
        if text and not thought and self.options.think_tags != "off":
            thought, text = split_think(
                text, starts_inside=self.options.think_tags == "open_in_prompt"
            )
        if thought:
            yield recorder.reasoning(thought)
        if text:
            yield recorder.whole(text)
        if plan.chat and message.get("tool_calls"):
            try:
                yield from _call_pieces(message["tool_calls"], recorder)
            except (AttributeError, KeyError, TypeError):
                raise ProtocolError(f"{url} sent unreadable tool calls: {_preview(data)}") from None
        scored = choice.get("logprobs")
        if scored:
            read = chat_logprobs if plan.chat else completion_logprobs
            try:
                yield recorder.logprobs(read(scored))
            except (AttributeError, KeyError, TypeError, ValueError):
                raise ProtocolError(f"{url} sent unreadable logprobs: {_preview(scored)}") from None
        if isinstance(data.get("usage"), dict):
            recorder.usage = _usage(data["usage"])
            yield UsageUpdate(usage=recorder.usage)
        if data.get("system_fingerprint"):
            self._note_version(recorder, data["system_fingerprint"])
        return _FINISH.get(choice.get("finish_reason") or "", "other")

    def _splitter(self) -> ThinkSplitter | None:
        """The <think> splitter for this server's text (None: the think_tags option is off)."""
        tags = self.options.think_tags
        return None if tags == "off" else ThinkSplitter(starts_inside=tags == "open_in_prompt")

    def _note_version(self, recorder: RunRecorder, version: str) -> None:
        if version and version != recorder.request.backend_version:
            self._server_version = version
            recorder.request = recorder.request.model_copy(update={"backend_version": version})


#: The decoder's C scanner, set on each instance (typeshed does not declare the attribute).
_scan_once: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _decode_event(data: str) -> Any:
    """``json.loads(data)``, a third cheaper per streamed token: the C scanner is called
    directly, without ``loads``'s argument checks, ``decode``'s two whitespace regex matches and
    ``raw_decode``'s Python frame. Anything but one JSON value filling the whole text
    (surrounding whitespace, trailing bytes, invalid JSON: the scanner raises StopIteration or
    ValueError) goes to ``json.loads``, so what is accepted and each error stay exactly its own."""
    try:
        value, end = _scan_once(data, 0)
    except (StopIteration, ValueError):
        return json.loads(data)
    return value if end == len(data) else json.loads(data)


def _split(
    pieces: list[Piece], recorder: RunRecorder
) -> Generator[StreamEvent, None, None]:
    for kind, piece in pieces:
        yield recorder.reasoning(piece) if kind == "reasoning" else recorder.text(piece)


def _call_pieces(
    calls: list[dict[str, Any]], recorder: RunRecorder
) -> Generator[StreamEvent, None, None]:
    """Tool-call pieces of a delta (or a whole message): each names its call by ``index`` (the
    position in a whole message), the first piece with the id and name, the rest adding
    argument text."""
    for position, call in enumerate(calls):
        function = call.get("function") or {}
        index = call.get("index", position)
        arguments = function.get("arguments") or ""
        yield recorder.tool_call(
            index if isinstance(index, int) else position,
            call.get("id") or "",
            function.get("name") or "",
            arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False),
        )


def _usage(data: dict[str, Any]) -> Usage:
    prompt, completion = data.get("prompt_tokens"), data.get("completion_tokens")
    details = data.get("completion_tokens_details")
    reasoning = details.get("reasoning_tokens") if isinstance(details, dict) else None
    return Usage(
        input_tokens=prompt if isinstance(prompt, int) else None,
        output_tokens=completion if isinstance(completion, int) else None,
        reasoning_tokens=reasoning if isinstance(reasoning, int) else None,
    )


def _preview(data: Any) -> str:
    return credentials.redact(json.dumps(data, ensure_ascii=False)[:160])
