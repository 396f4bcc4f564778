"""A local model's chat template, rendered into the exact prompt text the model reads.

The template embedded in the GGUF is the default. It is rendered by llama-cpp-python's
``Jinja2ChatFormatter``, which matches the renderer behind Hugging Face's
``apply_chat_template`` byte for byte (sandboxed Jinja, ``trim_blocks``/``lstrip_blocks``,
``loopcontrols``, ``raise_exception``, ``strftime_now``, a non-ASCII-escaping ``tojson``; checked
against 112 reference renders in the tests). A GGUF without a template is never silently given
the Llama-2 format: it has no chat template until the user names one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import jinja2
import jinja2.ext
import jinja2.utils

from workbench.core.errors import TemplateError
from workbench.core.models import RenderedMessage
from workbench.core.sandbox import Sandbox
from workbench.core.sandbox_values import budget

#: Named formats a user can choose for a GGUF whose template is missing or wrong: name ->
#: (name of the Jinja template constant in llama_cpp.llama_chat_format, end-of-turn strings).
NAMED_FORMATS: dict[str, tuple[str, tuple[str, ...]]] = {
    "chatml": ("CHATML_CHAT_TEMPLATE", ("<|im_end|>",)),
    "llama-3": ("LLAMA3_INSTRUCT_CHAT_TEMPLATE", ("<|eot_id|>",)),
    "mistral-instruct": ("MISTRAL_INSTRUCT_CHAT_TEMPLATE", ("</s>",)),
}


#: The variable reasoning models' templates (Qwen3's, SmolLM3's) read to think or not.
THINKING_SWITCH = "enable_thinking"


def reasons(source: str) -> bool:
    """Whether a chat template is a reasoning model's: it writes a ``<think>`` block."""
    return "<think>" in source


def has_thinking_switch(source: str) -> bool:
    """Whether a reasoning model's chat template can turn thinking off (``THINKING_SWITCH``)."""
    return reasons(source) and THINKING_SWITCH in source


@dataclass(frozen=True)
class RenderedPrompt:
    """A chat rendered for one model: the text and its end-of-turn stop strings."""

    text: str
    stops: tuple[str, ...]


@dataclass
class ChatTemplate:
    """A compiled chat template with the special-token strings it is rendered with."""

    source: str
    origin: str  # "gguf", a NAMED_FORMATS key, or "custom"
    bos_token: str = ""
    eos_token: str = ""
    extra_stops: tuple[str, ...] = ()
    _formatter: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        try:
            # Made with an empty template: its own environment would compile (and fold the
            # constants of) the untrusted source unbounded; ours compiles it instead.
            self._formatter = Jinja2ChatFormatter(
                template="", eos_token=self.eos_token, bos_token=self.bos_token
            )
            self._formatter.template = self.source
            self._formatter._environment = _bounded(self.source, Jinja2ChatFormatter)
        except jinja2.TemplateSyntaxError as err:
            raise TemplateError(
                err.message or str(err), source=self._where(), line=err.lineno
            ) from None
        except (RecursionError, SyntaxError):
            raise TemplateError("nested too deeply", source=self._where()) from None

    def _where(self) -> str:
        return (
            "the model's chat template"
            if self.origin == "gguf"
            else f"chat template '{self.origin}'"
        )

    def render(
        self,
        messages: Sequence[RenderedMessage],
        add_generation_prompt: bool = True,
        tools: list[dict[str, Any]] | None = None,
        enable_thinking: bool | None = None,
    ) -> RenderedPrompt:
        """The prompt text for ``messages``; a template that refuses them (e.g. "System role
        not supported") raises ``TemplateError`` with the template's own message. ``tools`` are
        function definitions in OpenAI's format, for templates that lay them out;
        ``enable_thinking`` is the switch of templates that have one (``THINKING_SWITCH``: False
        writes an empty think block, so the model answers at once); None leaves it undefined."""
        self._formatter.add_generation_prompt = add_generation_prompt
        switch = {} if enable_thinking is None else {THINKING_SWITCH: enable_thinking}
        try:
            with budget():
                result = self._formatter(
                    messages=[{"role": m.role, "content": m.content} for m in messages],
                    tools=tools,
                    **switch,
                )
        except Exception as err:  # whatever the template's filters and methods raise
            raise TemplateError(
                str(err) or type(err).__name__,
                source=self._where(),
                hint="change the messages, or choose another chat format for this model",
            ) from None
        stops = [s for s in (result.stop if isinstance(result.stop, list) else [result.stop]) if s]
        return RenderedPrompt(
            text=result.prompt,
            stops=tuple(dict.fromkeys([*stops, *self.extra_stops])),
        )


def _bounded(source: str, formatter: Any) -> jinja2.Template:
    """``source`` compiled as llama-cpp-python compiles it (Hugging Face's options, extensions
    and ``tojson``), in the workbench's sandbox: a template from a downloaded GGUF is as
    untrusted as an imported one, and is bounded in time and size the same way."""
    env = Sandbox(
        undefined=jinja2.Undefined,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=[formatter.IgnoreGenerationTags, jinja2.ext.loopcontrols],
    )
    env.globals.update(cycler=jinja2.utils.Cycler, joiner=jinja2.utils.Joiner)
    env.filters["tojson"] = formatter.tojson
    env.guard_filters()
    return env.from_string(source)


def named_template_source(name: str) -> str:
    """The Jinja source of a named format."""
    from llama_cpp import llama_chat_format

    constant, _ = NAMED_FORMATS[name]
    source: str = getattr(llama_chat_format, constant)
    return source


def for_model(
    metadata: dict[str, str],
    *,
    bos_token: str,
    eos_token: str,
    chat_format: str | None = None,
    chat_template: str | None = None,
) -> ChatTemplate | None:
    """The template a model is run with: a custom one, a named format, or the GGUF's own.
    None when the GGUF has none and the user chose none (completion prompts only)."""

    def make(source: str, origin: str, stops: tuple[str, ...] = ()) -> ChatTemplate:
        return ChatTemplate(source, origin, bos_token, eos_token, stops)

    if chat_template:
        return make(chat_template, "custom")
    if chat_format:
        if chat_format not in NAMED_FORMATS:
            raise TemplateError(
                f"unknown chat format '{chat_format}'",
                hint=f"choose one of {', '.join(NAMED_FORMATS)}",
            )
        return make(named_template_source(chat_format), chat_format, NAMED_FORMATS[chat_format][1])
    source = metadata.get("tokenizer.chat_template")
    return make(source, "gguf") if source else None
