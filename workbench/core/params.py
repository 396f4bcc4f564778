"""Inference parameters: what each one means, presets, and what a backend does with them."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from workbench.core import safe_yaml
from workbench.core.errors import BadRequestError, ParameterError
from workbench.core.models import Params, ResponseFormat, ResponseFormatType, RunRequest
from workbench.core.tools import Tool

#: One or two sentences per parameter: tooltips, CLI help and docs all use these.
DESCRIPTIONS: dict[str, str] = {
    "temperature": "Randomness. Low (0.1–0.5) is focused and repetitive; high (0.7–1.5) is "
    "diverse and riskier. 0 always takes the most probable token.",
    "top_p": "Nucleus sampling: sample only from the smallest set of tokens whose probabilities "
    "add up to p (typical 0.7–0.95). Adapts to how sure the model is.",
    "top_k": "Sample only from the k most probable tokens (typical 20–100). 1 is greedy.",
    "min_p": "Drop tokens less probable than min_p times the most probable one.",
    "max_tokens": "Upper bound on the answer's length in tokens; the finish reason is 'length' "
    "when it is hit.",
    "stop": "Generation ends as soon as one of these strings appears (it is not included).",
    "presence_penalty": "Penalises tokens that already appeared at all, pushing towards new "
    "topics (-2 to 2).",
    "frequency_penalty": "Penalises tokens by how often they already appeared, reducing "
    "verbatim repetition (-2 to 2).",
    "repetition_penalty": "Divides the probability of already-seen tokens (1 is off, 1.1–1.3 "
    "discourages loops). llama.cpp and Hugging Face style.",
    "seed": "Makes sampling reproducible where the backend honours it.",
    "n": "How many answers to generate for one request.",
    "best_of": "Generate this many answers and keep the best (best-of-N): quality over speed.",
    "top_logprobs": "How sure the model was of each token, with this many runner-up tokens "
    "per step (0: the written one only; up to 20), for the output's Tokens view. Off by default.",
    "greedy": "Always take the most probable token (temperature 0): simple, cheap and "
    "deterministic, but prone to repetition.",
    "reasoning_effort": "How hard a reasoning model thinks before answering (minimal, low, "
    "medium, high): more effort, better answers to hard questions, more (billed) tokens.",
    "thinking_budget": "Upper bound on the tokens a reasoning model may spend thinking "
    "(Anthropic's extended thinking: at least 1024 and below max tokens). Billed as output.",
}

PARAM_NAMES = tuple(name for name in Params.model_fields if name != "greedy")

#: Sampling settings a thinking model takes no change of while its thinking budget is on
#: (Anthropic's extended thinking, also through Bedrock: temperature only at 1, no top-k).
NOT_WHILE_THINKING = ("temperature", "top_k")


def check_param_names(value: dict[str, Any], *, list_known: bool = False) -> dict[str, Any]:
    """A settings field keyed by parameter name, as given; an unknown name is a ``ValueError``
    (for a pydantic validator), listing the known names too when ``list_known``."""
    unknown = sorted(set(value) - set(PARAM_NAMES))
    if unknown:
        known = f"; known: {', '.join(PARAM_NAMES)}" if list_known else ""
        raise ValueError(f"unknown parameter(s) {', '.join(unknown)}{known}")
    return value


#: Why a raw GBNF grammar is greyed on a backend other than llama.cpp in process.
NO_GRAMMAR = "a GBNF grammar is llama.cpp's own; run it on the local (llama.cpp) backend"


class ParamCapability(BaseModel):
    """How one backend treats one parameter."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    supported: bool = True
    minimum: float | None = None
    maximum: float | None = None
    note: str = ""
    #: What the backend sends when the parameter is unset (None: the model's or server's own
    #: value, not known here), so "default" can say what it means.
    default: float | None = None


class Capabilities(BaseModel):
    """A backend's table of the common parameters. Parameters not listed are ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    params: dict[str, ParamCapability] = Field(default_factory=dict)
    #: Response formats besides free text ("json_object", "json_schema", "grammar") and how
    #: each is enforced (``note``); one not listed is not enforced.
    response_formats: dict[str, ParamCapability] = Field(default_factory=dict)
    #: Whether the backend sends tools and returns the model's calls (``note``: why not).
    tools: ParamCapability = ParamCapability(
        supported=False, note="this backend cannot give the model tools"
    )
    #: Whether images in user messages are sent (``note``: how, or why not); a run with an image
    #: on a backend without it is refused before sending (``check_images``).
    vision: ParamCapability = ParamCapability(
        supported=False, note="this backend cannot send images"
    )

    @classmethod
    def supporting(cls, *names: str, **special: ParamCapability) -> Capabilities:
        table = {name: ParamCapability() for name in names}
        table.update(special)
        return cls(params=table)

    def with_defaults(self, values: dict[str, float | int]) -> Capabilities:
        """This table saying what the backend sends for each of ``values``' parameters unset."""
        params = {name: cap.model_copy(update={"default": values[name]})
                  if name in values and cap.supported else cap
                  for name, cap in self.params.items()}
        return self.model_copy(update={"params": params})

    def with_formats(self, **formats: ParamCapability) -> Capabilities:
        """This table with the response formats the backend enforces."""
        return self.model_copy(update={"response_formats": {**self.response_formats, **formats}})

    def format_support(self, kind: ResponseFormatType) -> ParamCapability:
        """Whether (and how, in ``note``) this backend enforces response format ``kind``."""
        if kind == "text":
            return ParamCapability()
        why = NO_GRAMMAR if kind == "grammar" else "this backend cannot enforce it"
        return self.response_formats.get(kind, ParamCapability(supported=False, note=why))

    def split_format(
        self, response_format: ResponseFormat | None
    ) -> tuple[ResponseFormat | None, dict[str, Any]]:
        """``(sent, ignored)`` for a response format, as ``split`` does for parameters: one the
        backend cannot enforce is dropped and recorded, so the run still happens (the prompt
        still asks for the shape) and the result says it was not enforced."""
        if response_format is None or response_format.type == "text":
            return None, {}
        if self.format_support(response_format.type).supported:
            return response_format, {}
        return None, {"response_format": response_format.type}

    def with_tools(self, note: str = "", *, supported: bool = True) -> Capabilities:
        """This table saying whether (and how, or why not, in ``note``) tools are sent."""
        return self.model_copy(
            update={"tools": ParamCapability(supported=supported, note=note)}
        )

    def with_vision(self, note: str = "", *, supported: bool = True) -> Capabilities:
        """This table saying whether (and how, or why not, in ``note``) images are sent."""
        return self.model_copy(
            update={"vision": ParamCapability(supported=supported, note=note)}
        )

    def check_images(self, request: RunRequest) -> None:
        """Refuse a request with images when this backend cannot send them: unlike a parameter,
        an image dropped silently would make the answer about a picture nobody showed."""
        count = sum(len(m.images) for m in request.messages)
        if count and not self.vision.supported:
            raise BadRequestError(
                f"this run has {count} image(s), but {self.vision.note}",
                hint="remove the images or choose a vision-capable model "
                "(OpenAI-compatible, Anthropic, Bedrock or Ollama)",
            )

    def split_tools(self, request: RunRequest) -> tuple[list[Tool], str, dict[str, Any]]:
        """``(tools, tool_choice, ignored)`` to send for ``request``: the tools without their
        mocks, or none and their names recorded as ignored when this backend cannot call them
        (the run still happens: the model answers in text)."""
        if not request.tools:
            return [], "auto", {}
        if not self.tools.supported:
            return [], "auto", {"tools": [t.name for t in request.tools]}
        return [t.declaration() for t in request.tools], request.tool_choice, {}

    def status(self, name: str) -> Literal["supported", "ignored"]:
        cap = self.params.get(name)
        return "supported" if cap is not None and cap.supported else "ignored"

    def with_overrides(self, overrides: dict[str, ParamCapability]) -> Capabilities:
        """This table with per-server corrections (e.g. a server that ignores ``n``)."""
        return self.model_copy(update={"params": {**self.params, **overrides}})

    def split(self, params: Params) -> tuple[dict[str, Any], dict[str, Any]]:
        """``(sent, ignored)``: the values this backend will send and those it drops.

        A supported value outside the backend's range is an error, not a silent clamp.
        """
        sent: dict[str, Any] = {}
        ignored: dict[str, Any] = {}
        for name, value in params.set_values().items():
            cap = self.params.get(name)
            if cap is None or not cap.supported:
                ignored[name] = value
                continue
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, int | float) and not isinstance(item, bool):
                    if cap.minimum is not None and item < cap.minimum:
                        raise ParameterError(
                            f"{name} = {item} is below this backend's minimum {cap.minimum:g}"
                        )
                    if cap.maximum is not None and item > cap.maximum:
                        raise ParameterError(
                            f"{name} = {item} is above this backend's maximum {cap.maximum:g}"
                        )
            sent[name] = value
        return sent, ignored


class Preset(BaseModel):
    """A named set of parameters."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    params: Params
    builtin: bool = False


def with_preset(current: Params, preset: Preset, previous: Preset | None = None) -> Params:
    """``current`` with the parameters ``preset`` names set to its values, and those the
    ``previous`` preset named (and this one does not) back to the default, so two presets do
    not blend. Everything else — max tokens, stop sequences, a penalty set by hand — is kept:
    a preset is a way of sampling, not the whole request."""
    named = preset.params.model_dump(exclude_defaults=True)
    values = current.model_dump(exclude_defaults=True)
    if previous is not None:
        for name in previous.params.model_dump(exclude_defaults=True):
            values.pop(name, None)
    return Params.model_validate({**values, **named})


def follows_preset(current: Params, preset: Preset) -> bool:
    """Whether every parameter ``preset`` names has its value in ``current``."""
    named = preset.params.model_dump(exclude_defaults=True)
    values = current.model_dump()
    return all(values[name] == value for name, value in named.items())


def _load_preset_file(path: Path, builtin: bool) -> list[Preset]:
    try:
        data = safe_yaml.load(path.read_text(encoding="utf-8")) or []
        return [Preset.model_validate({**item, "builtin": builtin}) for item in data]
    except OSError as err:
        raise ParameterError(f"{path}: cannot read: {err.strerror or err}") from None
    except UnicodeDecodeError as err:
        raise ParameterError(f"{path}: not UTF-8 text ({err.reason})") from None
    except yaml.YAMLError as err:
        reason = safe_yaml.describe(err)
        raise ParameterError(f"{path}: not a valid preset file: {reason}") from None
    except (ValidationError, TypeError) as err:
        raise ParameterError(f"{path}: not a valid preset file: {err}") from None


def load_presets(builtin_file: Path, user_dir: Path | None = None) -> dict[str, Preset]:
    """Built-in presets, then the user's (a user preset with a built-in's name replaces it)."""
    presets = {p.name: p for p in _load_preset_file(builtin_file, builtin=True)}
    if user_dir is not None and user_dir.is_dir():
        for path in sorted(user_dir.glob("*.yaml")):
            presets.update((p.name, p) for p in _load_preset_file(path, builtin=False))
    return presets


def dump_presets(presets: list[Preset]) -> str:
    """Preset file text (the format ``load_presets`` reads)."""
    items = [
        {
            "name": p.name,
            "description": p.description,
            "params": p.params.model_dump(exclude_defaults=True),
        }
        for p in presets
    ]
    return yaml.safe_dump(items, sort_keys=False, allow_unicode=True)
