"""Tools a model may call: their declaration, the calls a model makes, and the tool choice.

Kept apart from ``core.models`` (which uses them) so the tool vocabulary reads in one place; the
wire shapes per provider live in ``backends.tool_wire``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

#: ``tool_choice`` values besides a tool's name: the model decides, calls none, or must call one.
TOOL_CHOICE_MODES = ("auto", "none", "required")

_NAME = r"^[A-Za-z0-9_-]{1,64}$"  # what OpenAI, Anthropic and Bedrock all accept


class Tool(BaseModel):
    """A function the model may call: its name, what it does and a JSON schema of its arguments.

    ``mock`` is the playground's fixed answer to every call of it (never sent to a model): a
    tool with one answers by itself, one without waits for the user to type the result."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(pattern=_NAME)]
    description: str = ""
    parameters: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}}
    )
    mock: str | None = None

    def as_openai(self) -> dict[str, Any]:
        """OpenAI's ``function`` tool: the chat API's and its fine-tuning files' shape."""
        function = {"name": self.name, "description": self.description,
                    "parameters": self.parameters}
        return {"type": "function", "function": function}

    def declaration(self) -> Tool:
        """This tool as sent (and recorded): without the playground's mock."""
        return self if self.mock is None else self.model_copy(update={"mock": None})


class ToolCall(BaseModel):
    """One call the model made: ``arguments`` is the JSON text as the model wrote it (it may not
    parse: a model's mistake the run keeps, and assertions judge)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str
    arguments: str = ""

    def as_openai(self) -> dict[str, Any]:
        """The call in an OpenAI assistant message's ``tool_calls``."""
        function = {"name": self.name, "arguments": self.arguments or "{}"}
        return {"id": self.id, "type": "function", "function": function}

    def line(self) -> str:
        """One line for a terminal: ``name(arguments)  [id]``."""
        return f"{self.name}({self.arguments})  [{self.id}]"

    def parsed_arguments(self) -> Any:
        """The arguments as JSON (``{}`` for none written); ``ValueError`` if they do not parse."""
        return json.loads(self.arguments) if self.arguments.strip() else {}


def check_tool_choice(choice: str, tools: list[Tool]) -> str:
    """``choice`` if it is a mode or one of ``tools``' names; else a ``ValueError`` saying why."""
    if choice in TOOL_CHOICE_MODES:
        if choice == "required" and not tools:
            raise ValueError("tool_choice 'required' needs tools")
        return choice
    if choice not in {t.name for t in tools}:
        raise ValueError(
            f"tool_choice {choice!r} is neither {', '.join(TOOL_CHOICE_MODES)} nor a tool's name"
        )
    return choice


def check_unique(tools: list[Tool]) -> list[Tool]:
    names = [t.name for t in tools]
    if len(names) != len(set(names)):
        raise ValueError("two tools have the same name")
    return tools
