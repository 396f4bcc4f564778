"""Ollama on its native API, which its OpenAI-compatible endpoint hides half of.

``POST /api/chat`` (a completion template: ``POST /api/generate`` with ``raw``, no chat template)
streams newline-delimited JSON: one object a line, the last with ``done: true``, the token counts
and durations. Sampling parameters go in ``options`` by Ollama's names (``num_predict``,
``repeat_penalty``), with ``num_ctx`` (Ollama's context size, 2048–4096 by default, which
silently truncates a longer prompt); a response format goes in ``format`` (``"json"`` or the
schema itself); ``think`` (a run's reasoning effort, for a model whose ``/api/show`` lists the
thinking capability, else the think option) and ``keep_alive`` are sent when set. The model's
load time (``load_duration``) is recorded apart from generation, so a cold start does not pass for
a slow model. Models and their context length come from ``/api/tags`` and ``/api/show``.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, field_validator

from workbench.backends.base import CancelToken, ModelInfo, StreamEvent, UsageUpdate
from workbench.backends.http import StreamResponse, http_base_url
from workbench.backends.http_errors import ErrorContext, mid_stream_error
from workbench.backends.pool import PoolOptions, ServerPool, Servers
from workbench.backends.reasoning import takes_effort
from workbench.backends.recording import PlannedBackend, RunCancelled, RunRecorder
from workbench.backends.structured import schema_of
from workbench.backends.tool_wire import ollama_message, openai_tools
from workbench.core.errors import KnownError, ProtocolError, ServerError
from workbench.core.models import FinishReason, RunRequest, SentRequest, Usage
from workbench.core.params import Capabilities, ParamCapability, check_param_names

#: Our parameter name -> the key in Ollama's ``options``.
OPTION_NAMES = {
    "temperature": "temperature",
    "top_p": "top_p",
    "top_k": "top_k",
    "min_p": "min_p",
    "max_tokens": "num_predict",
    "stop": "stop",
    "seed": "seed",
    "repetition_penalty": "repeat_penalty",
    "presence_penalty": "presence_penalty",
    "frequency_penalty": "frequency_penalty",
}
THINK_NOTE = (
    "sent as think, to models whose /api/show lists the thinking capability: the level for "
    "models that take levels (gpt-oss), else true (minimal: false, thinking off)"
)
CAPABILITIES = Capabilities.supporting(
    "top_p",
    "top_k",
    "min_p",
    "stop",
    "presence_penalty",
    "frequency_penalty",
    temperature=ParamCapability(minimum=0, maximum=2),
    max_tokens=ParamCapability(note="sent as options.num_predict"),
    seed=ParamCapability(note="same seed, parameters and model: the same answer"),
    repetition_penalty=ParamCapability(note="sent as options.repeat_penalty"),
    reasoning_effort=ParamCapability(note=THINK_NOTE),
    thinking_budget=ParamCapability(supported=False, note="Ollama takes no thinking budget"),
).with_formats(
    json_object=ParamCapability(note='format: "json"'),
    json_schema=ParamCapability(note="format: the schema (constrained sampling)"),
).with_tools(
    "tools on /api/chat, for models whose template supports them; no tool choice"
).with_vision("a message's images field (base64), for vision models (llava, gemma3…)")
_FINISH: dict[str, FinishReason] = {"stop": "stop", "length": "length"}
#: Ollama's other ``options`` (its Modelfile parameters), settable per configuration.
_RESERVED = {*OPTION_NAMES.values(), "num_ctx"}


class OllamaOptions(PoolOptions):
    """Settings for one Ollama server."""

    base_url: str = Field(
        default="http://127.0.0.1:11434",
        description="Ollama's address, without /api (e.g. http://127.0.0.1:11434)",
    )
    default_model: str = Field(
        default="", description="Model used when a run names none; empty: the server's only model"
    )
    num_ctx: int | None = Field(
        default=None,
        ge=256,
        le=2_097_152,
        description="Context size in tokens (options.num_ctx); empty: the model's Ollama default, "
        "which cuts longer prompts silently",
    )
    keep_alive: str = Field(
        default="",
        description="How long the model stays loaded after a run ('5m', '1h', '0' to unload, "
        "'-1' for ever); empty: the server's default",
    )
    think: bool | Literal["low", "medium", "high"] | None = Field(
        default=None,
        description="Thinking models: true/false, or low/medium/high where the model takes "
        "levels; empty: the model's default. The thinking is kept apart from the answer",
    )
    streaming: bool = Field(default=True, description="Stream the answer as it is generated")
    model_options: dict[str, Any] = Field(
        default_factory=dict,
        description="Further Ollama options sent with every run (num_gpu, num_thread, "
        "mirostat…); the common parameters and num_ctx have their own settings",
    )
    capability_overrides: dict[str, ParamCapability] = Field(
        default_factory=dict, description="Corrections for this server's models"
    )

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return http_base_url(value).removesuffix("/api")

    @field_validator("capability_overrides")
    @classmethod
    def _known_params(cls, value: dict[str, Any]) -> dict[str, Any]:
        return check_param_names(value, list_known=True)

    @field_validator("model_options")
    @classmethod
    def _not_reserved(cls, value: dict[str, Any]) -> dict[str, Any]:
        taken = sorted(set(value) & _RESERVED)
        if taken:
            raise ValueError(
                f"{', '.join(taken)}: set by the run's parameters or the num_ctx setting"
            )
        return value


@dataclass(frozen=True)
class _Plan:
    path: str
    body: dict[str, Any]
    model: str
    chat: bool


class OllamaBackend(PlannedBackend[_Plan]):
    id = "ollama"
    display_name = "Ollama"
    Options = OllamaOptions

    def __init__(self, options: OllamaOptions | None = None) -> None:
        super().__init__(options)
        self.options: OllamaOptions
        self._server_version = ""
        self._only_model = ""
        self._shown: dict[str, dict[str, Any]] = {}
        context = ErrorContext(service="Ollama", base_url=self.options.base_url)
        opts = self.options
        self._http = Servers(opts, opts.base_url, context, probe_path="/api/tags")
        # Model lists are asked interactively (the picker, `workbench backends`): an Ollama that
        # is not running is said at once, not after retries with backoff (2.7 s). A pool's
        # client never retries itself: its lists go through the pool.
        self._lists = (
            self._http
            if self._http.pool is not None
            else Servers(opts, opts.base_url, context, probe_path="/api/tags", retries=False)
        )

    @property
    def pool(self) -> ServerPool | None:
        """The server pool when ``base_urls`` is set (its figures are per server)."""
        return self._http.pool

    # --- description ---------------------------------------------------------------------

    def capabilities(self) -> Capabilities:
        return CAPABILITIES.with_overrides(self.options.capability_overrides)

    def model_capabilities(self, model: str) -> Capabilities:
        """A reasoning effort only for a model whose ``/api/show`` lists "thinking" (a server
        that cannot be asked, or an Ollama too old to list capabilities: the backend's table)."""
        model = model or self.options.default_model
        said = (self._show(model) or {}).get("capabilities") if model else None
        thinks = None if not isinstance(said, list) else "thinking" in said
        table = CAPABILITIES
        if thinks is False:
            table = table.with_overrides({"reasoning_effort": ParamCapability(
                supported=False,
                note=f"{model} does not think: its /api/show lists no thinking capability",
            )})
        return table.with_overrides(self.options.capability_overrides)

    def _show(self, model: str) -> dict[str, Any] | None:
        """``/api/show`` for ``model``, asked once per model (None: it could not be asked)."""
        if model not in self._shown:
            try:
                shown, _ = self._lists.request_json(
                    "POST", "/api/show", json_body={"model": model}
                )
            except KnownError:
                return None  # not remembered: the server may be up next time
            self._shown[model] = shown if isinstance(shown, dict) else {}
        return self._shown[model]

    def version(self) -> str:
        return self._server_version

    def close(self) -> None:
        self._http.close()
        if self._lists is not self._http:
            self._lists.close()

    def list_models(self) -> list[ModelInfo]:
        """``/api/tags``, with each model's context length from ``/api/show``."""
        data, base_url = self._lists.request_json("GET", "/api/tags")
        items = data.get("models") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise ProtocolError(
                f"{base_url}/api/tags did not list models",
                hint="check the base URL points at Ollama (http://127.0.0.1:11434)",
            )
        models = []
        for item in items:
            name = item.get("name") if isinstance(item, dict) else None
            if not isinstance(name, str):
                continue
            details = item.get("details") if isinstance(item.get("details"), dict) else {}
            words = (details.get(k) for k in ("family", "parameter_size", "quantization_level"))
            described = " ".join(w for w in words if isinstance(w, str))
            window = self._context_length(name)
            models.append(ModelInfo(id=name, context_window=window, description=described))
        return sorted(models, key=lambda m: m.id)

    def _context_length(self, model: str) -> int | None:
        shown = self._show(model)  # None: the list stays useful without it
        info = shown.get("model_info") if shown is not None else None
        if not isinstance(info, dict):
            return None
        length = info.get(f"{info.get('general.architecture')}.context_length")
        return length if isinstance(length, int) else None

    # --- running ---------------------------------------------------------------------------

    def _model(self, request: RunRequest) -> str:
        model = request.model or self.options.default_model or self._only_model
        if model:
            return model
        ids = [m.id for m in self.list_models()]
        if len(ids) == 1:
            self._only_model = ids[0]
            return ids[0]
        raise KnownError(
            f"choose a model: {self.options.base_url} offers {', '.join(ids[:10]) or 'none'}",
            hint="pass --model or set default_model for this server (ollama pull NAME adds one)",
        )

    def _prepare(self, request: RunRequest) -> tuple[SentRequest, _Plan]:
        opts = self.options
        chat = request.prompt is None
        model = self._model(request)
        capabilities = self.model_capabilities(model)
        sent, ignored = capabilities.split(request.params)
        response_format, dropped = capabilities.split_format(request.response_format)
        tools, tool_choice, unsent_tools = capabilities.split_tools(request)
        if tool_choice != "auto":  # Ollama's chat has no tool choice: the model decides
            unsent_tools["tool_choice"], tool_choice = tool_choice, "auto"
        ignored = {**ignored, **dropped, **unsent_tools}
        options: dict[str, Any] = dict(opts.model_options)
        options.update({OPTION_NAMES[n]: value for n, value in sent.items() if n in OPTION_NAMES})
        if opts.num_ctx is not None:
            options["num_ctx"] = opts.num_ctx
        body: dict[str, Any] = {"model": model, "stream": opts.streaming}
        if chat:
            names = {c.id: c.name for m in request.messages for c in m.tool_calls}
            body["messages"] = [ollama_message(m, names) for m in request.messages]
            if tools:
                body["tools"] = openai_tools(tools, "auto")["tools"]
        else:
            body["prompt"], body["raw"] = request.prompt, True
        if options:
            body["options"] = options
        if response_format is not None:
            body["format"] = (
                "json" if response_format.type == "json_object" else schema_of(response_format)
            )
        effort = sent.get("reasoning_effort")  # the run's, over the backend's think option
        think = opts.think if effort is None else think_value(effort, model)
        if think is not None:
            body["think"] = think
        if opts.keep_alive:
            body["keep_alive"] = _keep_alive(opts.keep_alive)
        record = SentRequest(
            backend=self.id,
            backend_version=self._server_version,
            model=model,
            messages=request.messages if chat else [],
            prompt=None if chat else request.prompt,
            sent_params=sent,
            ignored_params=ignored,
            seed=sent.get("seed"),
            response_format=response_format,
            tools=tools,
        )
        path = "/api/chat" if chat else "/api/generate"
        return record, _Plan(path, body, model, chat)

    def _exchange(
        self, plan: _Plan, recorder: RunRecorder, cancel: CancelToken
    ) -> Generator[StreamEvent, None, FinishReason]:
        with self._http.stream(
            "POST", plan.path, json_body=plan.body, cancel=cancel, model=plan.model
        ) as (response, base_url):
            if self.pool is not None:  # which server of the pool answered
                recorder.request = recorder.request.model_copy(update={"server": base_url})
            if not plan.body["stream"]:
                finish = yield from self._last(response.json(), plan, recorder, response.url, True)
            else:
                finish = yield from self._lines(response, plan, recorder)
        self._note_version(recorder, cancel)
        return finish

    def _lines(
        self, response: StreamResponse, plan: _Plan, recorder: RunRecorder
    ) -> Generator[StreamEvent, None, FinishReason]:
        for line in response.lines():
            try:
                data = json.loads(line)
            except ValueError:
                raise ProtocolError(
                    f"malformed line from {response.url}: {line[:120]!r} is not JSON",
                    hint="the server broke the stream format",
                ) from None
            if not isinstance(data, dict):
                raise ProtocolError(f"malformed line from {response.url}: {line[:120]!r}")
            if data.get("done"):
                return (yield from self._last(data, plan, recorder, response.url, False))
            yield from self._text(data, plan, recorder, response.url, whole=False)
        raise ProtocolError(
            f"the stream from {response.url} ended before the answer was complete "
            "(no line with done: true)",
            hint="the server closed the stream early (did it crash or unload the model?); "
            "the partial text is kept",
        )

    def _text(
        self, data: dict[str, Any], plan: _Plan, recorder: RunRecorder, url: str, whole: bool
    ) -> Generator[StreamEvent, None, None]:
        if "error" in data:
            raise mid_stream_error(ServerError, f"{url} reported an error: {data['error']}")
        if plan.chat:
            message = data.get("message")
            text = message.get("content") if isinstance(message, dict) else None
            thought = message.get("thinking") if isinstance(message, dict) else None
            if thought and isinstance(thought, str):  # a thinking model's, apart from the answer
                yield recorder.reasoning(thought)
            calls = message.get("tool_calls") if isinstance(message, dict) else None
            if calls:
                yield from _calls(calls, recorder, url)
        else:
            text = data.get("response")
        if text and isinstance(text, str):
            yield recorder.whole(text) if whole else recorder.text(text)

    def _last(
        self, data: Any, plan: _Plan, recorder: RunRecorder, url: str, whole: bool
    ) -> Generator[StreamEvent, None, FinishReason]:
        """The ``done`` object: its text (a whole answer), counts, load time, finish reason."""
        if not isinstance(data, dict):
            raise ProtocolError(f"{url} answered with {str(data)[:120]!r}")
        yield from self._text(data, plan, recorder, url, whole)
        prompt, output = data.get("prompt_eval_count"), data.get("eval_count")
        recorder.usage = Usage(
            input_tokens=prompt if isinstance(prompt, int) else None,
            output_tokens=output if isinstance(output, int) else None,
        )
        yield UsageUpdate(usage=recorder.usage)
        load = data.get("load_duration")
        if isinstance(load, int | float) and load > 0:
            recorder.load_s = load / 1e9
        finish = _FINISH.get(str(data.get("done_reason") or "stop"), "other")
        return "tool_calls" if recorder.called and finish == "stop" else finish

    def _note_version(self, recorder: RunRecorder, cancel: CancelToken) -> None:
        """The server's version, asked once per backend after its first answer."""
        if not self._server_version:
            try:
                data, _ = self._http.request_json("GET", "/api/version", cancel=cancel)
            except (KnownError, RunCancelled):
                return  # the answer is complete; only its version label is missing
            version = data.get("version") if isinstance(data, dict) else None
            self._server_version = version if isinstance(version, str) else ""
        recorder.request = recorder.request.model_copy(
            update={"backend_version": self._server_version}
        )


def _calls(calls: Any, recorder: RunRecorder, url: str) -> Generator[StreamEvent, None, None]:
    """Ollama's tool calls: each comes whole (arguments an object), without an id on older
    servers (one is made from its position, which later turns do not need: results go back
    by tool name)."""
    try:
        for call in calls:
            position = recorder.calls
            function = call["function"]
            call_id = str(call.get("id") or f"call_{position}")
            arguments = json.dumps(function.get("arguments") or {}, ensure_ascii=False)
            yield recorder.tool_call(position, call_id, function["name"], arguments)
    except (KeyError, TypeError, AttributeError):
        raise ProtocolError(f"{url} sent an unreadable tool call: {str(calls)[:120]!r}") from None


def think_value(effort: str, model: str) -> bool | str:
    """Ollama's ``think`` for a run's reasoning effort: a model taking levels (gpt-oss) gets
    the level ("minimal" is its "low"); any other thinking model thinks or not."""
    if takes_effort(model):
        return "low" if effort == "minimal" else effort
    return effort != "minimal"


def _keep_alive(value: str) -> str | int:
    """Ollama reads a bare number as seconds (an int); a duration ('5m') stays text."""
    try:
        return int(value)
    except ValueError:
        return value
