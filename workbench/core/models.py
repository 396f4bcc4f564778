"""The domain's data types, shared by every layer.

Everything that crosses a thread or process boundary, or is saved, is one of these pydantic models,
so it validates on the way in and serialises the same way everywhere.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SkipValidation,
    field_validator,
    model_validator,
)

from workbench.core.gbnf import first_problem
from workbench.core.images import ImagePart
from workbench.core.logprobs import MAX_TOP_LOGPROBS, TokenLogprob
from workbench.core.tools import Tool, ToolCall, check_tool_choice, check_unique

Role = Literal["system", "user", "assistant"]
#: A sent message's role: a template's roles, plus ``tool`` for a tool call's result.
SentRole = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal[
    "stop", "length", "error", "cancelled", "tool_calls", "content_filter", "other"
]

FORMAT_VERSION = 1

#: How hard a reasoning model thinks before it answers (OpenAI's ``reasoning_effort`` levels).
ReasoningEffort = Literal["minimal", "low", "medium", "high"]

#: The answer's required shape: free text, any JSON object, JSON matching a schema, or text a
#: raw GBNF grammar accepts (llama.cpp only).
ResponseFormatType = Literal["text", "json_object", "json_schema", "grammar"]


def _checked_grammar(text: str) -> None:
    """A ``ValueError`` naming the first problem (line:column) of a grammar llama.cpp would
    refuse: it would crash the process rather than say so (``core.gbnf``)."""
    problem = first_problem(text)
    if problem is not None:
        raise ValueError(f"grammar {problem}")


def _empty(value: object) -> bool:
    """Left out of dumps when unset, so runs without tools serialise as they did before them."""
    return not value


def _auto(value: object) -> bool:
    return value == "auto"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _images_on_user(role: str, images: list[ImagePart]) -> None:
    if images and role != "user":
        raise ValueError(f"only a user message carries images, not a {role} message")


class Message(_Model):
    """One chat message. ``literal`` bodies are plain text, never rendered as Jinja. Its content
    parts are its text and its ``images`` (user messages only), which pass through rendering."""

    role: Role
    content: str
    literal: bool = False
    images: list[ImagePart] = Field(default_factory=list, exclude_if=_empty)

    @model_validator(mode="after")
    def _images_only_from_user(self) -> Message:
        _images_on_user(self.role, self.images)
        return self


class Variable(_Model):
    """A declared template variable."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
    description: str = ""
    default: str | None = None
    multiline: bool = False


class Example(_Model):
    """A few-shot example as data: the input, the wanted output and an optional rationale."""

    input: str
    output: str
    rationale: str = ""


class FewShot(_Model):
    """How examples are chosen and laid out when the template is rendered."""

    k: Annotated[int | None, Field(ge=0)] = None  # None: all examples
    order: Literal["fixed", "shuffle"] = "fixed"
    seed: int = 0
    example_format: str = "Input: {{ input }}\nOutput: {{ output }}"
    separator: str = "\n\n"
    token_budget: Annotated[int | None, Field(ge=1)] = None


class Components(_Model):
    """The four prompt components, each optional; scaffolds lay them out in the messages."""

    instruction: str = ""
    context: str = ""
    input_data: str = ""
    output_indicator: str = ""


class Params(_Model):
    """Inference parameters. ``None`` means "leave it to the backend's default"."""

    temperature: Annotated[float | None, Field(ge=0.0, le=2.0)] = None
    top_p: Annotated[float | None, Field(gt=0.0, le=1.0)] = None
    top_k: Annotated[int | None, Field(ge=0)] = None
    min_p: Annotated[float | None, Field(ge=0.0, le=1.0)] = None
    max_tokens: Annotated[int | None, Field(ge=1)] = None
    stop: list[str] = Field(default_factory=list)
    presence_penalty: Annotated[float | None, Field(ge=-2.0, le=2.0)] = None
    frequency_penalty: Annotated[float | None, Field(ge=-2.0, le=2.0)] = None
    repetition_penalty: Annotated[float | None, Field(gt=0.0, le=2.0)] = None
    seed: int | None = None
    n: Annotated[int | None, Field(ge=1, le=128)] = None
    best_of: Annotated[int | None, Field(ge=1, le=128)] = None
    # Token log-probabilities with this many alternatives per token (0: the written token's
    # alone); None: off, as they cost time and storage.
    top_logprobs: Annotated[int | None, Field(ge=0, le=MAX_TOP_LOGPROBS)] = None
    greedy: bool = False
    reasoning_effort: ReasoningEffort | None = None
    thinking_budget: Annotated[int | None, Field(ge=1)] = None  # tokens the model may think

    @field_validator("stop")
    @classmethod
    def _no_empty_stop(cls, value: list[str]) -> list[str]:
        if any(s == "" for s in value):
            raise ValueError("a stop sequence cannot be empty")
        return value

    @model_validator(mode="after")
    def _best_of_covers_n(self) -> Params:
        if self.best_of is not None and self.n is not None and self.best_of < self.n:
            raise ValueError("best_of must be at least n")
        return self

    def set_values(self) -> dict[str, Any]:
        """The parameters that were given a value (greedy folded into temperature/top_k)."""
        values = self.model_dump(exclude_defaults=True)
        if values.pop("greedy", False):
            values["temperature"] = 0.0
            values["top_k"] = 1
            values.pop("top_p", None)
            values.pop("min_p", None)
        return values

    def merged(self, override: Params) -> Params:
        """These parameters with every value set in ``override`` replacing them."""
        return Params.model_validate(
            {**self.model_dump(exclude_defaults=True), **override.model_dump(exclude_defaults=True)}
        )


class ResponseFormat(_Model):
    """The shape a run's answer must have, sent to the model rather than only asked for in the
    prompt: backends compile it (a llama.cpp grammar, OpenAI's ``response_format``, a forced
    tool for Anthropic and Bedrock) so the answer parses by construction where they can."""

    type: ResponseFormatType = "text"
    json_schema: dict[str, Any] | None = None  # the schema of a ``json_schema`` format
    grammar: str | None = Field(default=None, exclude_if=_empty)  # GBNF of a ``grammar`` format
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")] = "response"
    strict: bool = True  # OpenAI's strict mode: the schema is enforced, not only a hint

    @model_validator(mode="after")
    def _schema_matches_type(self) -> ResponseFormat:
        if self.type == "json_schema" and self.json_schema is None:
            raise ValueError("a json_schema response format needs a schema")
        if self.type != "json_schema" and self.json_schema is not None:
            raise ValueError(f"a {self.type} response format takes no schema")
        if (self.type == "grammar") != (self.grammar is not None):
            raise ValueError("a grammar response format, and only one, has a grammar")
        if self.grammar is not None:
            _checked_grammar(self.grammar)
        return self


class PromptTemplate(_Model):
    """A reusable prompt: chat messages (or one completion text) plus what it needs to render."""

    format_version: int = FORMAT_VERSION
    name: str
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    technique: str = "zero-shot"
    mode: Literal["chat", "completion"] = "chat"
    messages: list[Message] = Field(default_factory=list)
    text: str = ""
    variables: list[Variable] = Field(default_factory=list)
    examples: list[Example] = Field(default_factory=list)
    few_shot: FewShot = Field(default_factory=FewShot)
    components: Components = Field(default_factory=Components)
    parameters: Params = Field(default_factory=Params)
    answer_pattern: str = ""  # regex whose first group is the final answer (CoT, self-consistency)
    output_schema: dict[str, Any] | None = None  # JSON schema for structured output
    # Sent to the model as its response format (json_schema sends ``output_schema``, grammar
    # sends ``grammar``); "text" leaves the schema as guidance in the prompt only.
    response_format: ResponseFormatType = "text"
    # A raw GBNF grammar for llama.cpp's constrained decoding (power users; "From schema" in the
    # app starts it from ``output_schema``), sent when response_format is "grammar".
    grammar: str | None = None
    # Functions the model may call; the playground answers each call with the tool's mock (or
    # a value typed in) and goes on for up to ``max_tool_steps`` model turns.
    tools: list[Tool] = Field(default_factory=list)
    tool_choice: str = "auto"  # auto, none, required, or a tool's name
    max_tool_steps: Annotated[int, Field(ge=1, le=50)] = 5
    # Fields of another tool's file the workbench has no place for (a CSV library's extra
    # columns), kept so exporting to that format gives them back.
    metadata: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _mode_has_body(self) -> PromptTemplate:
        if self.format_version > FORMAT_VERSION:
            raise ValueError(
                f"format_version {self.format_version} is newer than this app reads "
                f"({FORMAT_VERSION}); update Prompt Workbench"
            )
        if self.mode == "chat" and self.text:
            raise ValueError("a chat template has messages, not 'text'")
        if self.mode == "completion" and self.messages:
            raise ValueError("a completion template has 'text', not messages")
        if self.response_format == "json_schema" and self.output_schema is None:
            raise ValueError("response_format json_schema needs an output_schema")
        if self.response_format == "grammar" and not self.grammar:
            raise ValueError("response_format grammar needs a grammar")
        if self.grammar:
            _checked_grammar(self.grammar)
        names = [v.name for v in self.variables]
        if len(names) != len(set(names)):
            raise ValueError("a variable is declared twice")
        check_unique(self.tools)
        if self.tools or self.tool_choice != "auto":
            check_tool_choice(self.tool_choice, self.tools)
        return self

    def variable(self, name: str) -> Variable | None:
        return next((v for v in self.variables if v.name == name), None)

    def response_format_request(self) -> ResponseFormat | None:
        """The response format runs of this template send (None: plain text)."""
        if self.response_format == "text":
            return None
        if self.response_format == "grammar":
            return ResponseFormat(type="grammar", grammar=self.grammar)
        schema = self.output_schema if self.response_format == "json_schema" else None
        return ResponseFormat(type=self.response_format, json_schema=schema)


class RenderedMessage(_Model):
    """A message after rendering: exactly what is sent. In a tool conversation an assistant
    message carries the calls it made and a ``tool`` message the result of one of them."""

    role: SentRole
    content: str
    tool_calls: list[ToolCall] = Field(default_factory=list, exclude_if=_empty)
    tool_call_id: str | None = Field(default=None, exclude_if=_empty)  # the call a result answers
    # A result that is an error (a Python mock that raised): Anthropic's ``is_error``,
    # Bedrock's ``status: error``; OpenAI has no flag, its text says so.
    tool_error: bool = Field(default=False, exclude_if=_empty)
    images: list[ImagePart] = Field(default_factory=list, exclude_if=_empty)  # user only

    def as_openai(self) -> dict[str, Any]:
        """This message in OpenAI's chat shape (the API's, and its fine-tuning files'): an
        assistant's calls as ``tool_calls`` (content null without text), a result as a
        ``tool`` message naming its call."""
        if self.role == "tool":
            return {"role": "tool", "tool_call_id": self.tool_call_id, "content": self.content}
        if self.images:  # content parts: the images, then the text
            parts: list[dict[str, Any]] = [
                {"type": "image_url", "image_url": {"url": i.data_url(), "detail": i.detail}}
                for i in self.images
            ]
            return {"role": self.role, "content": [*parts, {"type": "text", "text": self.content}]}
        if not self.tool_calls:
            return {"role": self.role, "content": self.content}
        return {"role": "assistant", "content": self.content or None,
                "tool_calls": [call.as_openai() for call in self.tool_calls]}

    @model_validator(mode="after")
    def _tool_parts(self) -> RenderedMessage:
        if self.tool_calls and self.role != "assistant":
            raise ValueError("only an assistant message carries tool calls")
        if (self.role == "tool") != (self.tool_call_id is not None):
            raise ValueError("a tool message, and only one, answers a tool_call_id")
        _images_on_user(self.role, self.images)
        return self


class Usage(_Model):
    input_tokens: int | None = None
    output_tokens: int | None = None
    # The part of ``output_tokens`` a reasoning model spent thinking (providers bill it as
    # output); None when the backend does not say.
    reasoning_tokens: int | None = None

    @property
    def answer_tokens(self) -> int | None:
        """Output tokens less the reasoning ones: the answer's own length."""
        if self.output_tokens is None:
            return None
        return max(self.output_tokens - (self.reasoning_tokens or 0), 0)


class Timings(_Model):
    """Seconds. ``load_s`` is model loading, reported apart from generation."""

    load_s: float | None = None
    ttft_s: float | None = None
    total_s: float | None = None
    tokens_per_s: float | None = None


class RunRequest(_Model):
    """What the user asked to run. Backends turn it into the request they actually send."""

    backend: str
    model: str = ""
    messages: list[RenderedMessage] = Field(default_factory=list)
    prompt: str | None = None  # completion mode
    params: Params = Field(default_factory=Params)
    response_format: ResponseFormat | None = None  # None: free text
    # The answer's beginning, which the model continues (branching at a token): the result's
    # text starts with it. Only backends whose ``continues_answers`` is true take it.
    continue_from: str | None = None
    tools: list[Tool] = Field(default_factory=list, exclude_if=_empty)  # callable functions
    tool_choice: str = Field(default="auto", exclude_if=_auto)  # auto, none, required, a name

    @model_validator(mode="after")
    def _has_input(self) -> RunRequest:
        if not self.messages and self.prompt is None:
            raise ValueError("a run needs messages or a prompt")
        check_unique(self.tools)
        if self.tools or self.tool_choice != "auto":
            check_tool_choice(self.tool_choice, self.tools)
        return self


class SentRequest(_Model):
    """The exact request a backend sent, recorded with every result."""

    backend: str  # the backend's type (its id): "openai_compat", "llamacpp"
    # The configured backend the run was asked of ("down" in Tools ▸ Backends), when the runner
    # knows it: what history shows and what restoring a run selects again.
    backend_name: str = ""
    backend_version: str = ""
    model: str
    messages: list[RenderedMessage] = Field(default_factory=list)
    prompt: str | None = None
    sent_params: dict[str, Any] = Field(default_factory=dict)
    ignored_params: dict[str, Any] = Field(default_factory=dict)
    seed: int | None = None
    raw_prompt: str | None = None  # after the chat template, where the backend exposes it
    # What the user asked for (before the backend's defaults and drops): restores a run's settings.
    requested_params: Params | None = None
    # The response format the backend enforced (None: free text, or one it cannot enforce, which
    # is then in ``ignored_params`` under "response_format").
    response_format: ResponseFormat | None = None
    continue_from: str | None = None  # the answer's given beginning (a branch at a token)
    # The base URL of the server that answered, when the backend is a pool of servers.
    server: str = ""
    # The tools sent (without their mocks) and the tool choice; a backend that cannot call
    # tools sends none and records "tools" in ``ignored_params``.
    tools: list[Tool] = Field(default_factory=list, exclude_if=_empty)
    tool_choice: str = Field(default="auto", exclude_if=_auto)


class RunResult(_Model):
    """A finished, failed or cancelled run."""

    request: SentRequest
    text: str = ""  # the answer: what assertions, judges and compare read
    reasoning: str = ""  # what a reasoning model thought before answering, kept apart
    finish_reason: FinishReason
    usage: Usage = Field(default_factory=Usage)
    timings: Timings = Field(default_factory=Timings)
    error: str | None = None
    error_kind: str | None = None
    cost: float | None = None
    # The calls the model made (finish reason "tool_calls"), in order, arguments as written.
    tool_calls: list[ToolCall] = Field(default_factory=list, exclude_if=_empty)
    # Each written token's log-probability and alternatives, when ``top_logprobs`` was asked of
    # a backend that returns them (stored apart from the run's row, as one packed blob).
    # Not validated: a backend built them, and thousands of tuples would cost at every finish.
    logprobs: Annotated[list[TokenLogprob] | None, SkipValidation] = Field(
        default=None, exclude=True
    )
