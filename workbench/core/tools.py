"""Tools a model may call: their declaration, the calls a model makes, and the tool choice.

Kept apart from ``core.models`` (which uses them) so the tool vocabulary reads in one place; the
wire shapes per provider live in ``backends.tool_wire``.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: ``tool_choice`` values besides a tool's name: the model decides, calls none, or must call one.
TOOL_CHOICE_MODES = ("auto", "none", "required")

_NAME = r"^[A-Za-z0-9_-]{1,64}$"  # what OpenAI, Anthropic and Bedrock all accept


class PythonMock(BaseModel):
    """A tool's mock computed per call: ``python`` defines ``mock(args)`` (or ``mock(args,
    step)``), run in the sandboxed evaluator (``services.python_eval``) on the call's parsed
    arguments; what it returns (text, or any JSON value, sent as JSON) is the tool's result."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    python: str

    @field_validator("python")
    @classmethod
    def _compiles(cls, code: str) -> str:
        problem = mock_code_problem(code)
        if problem is not None:
            raise ValueError(problem.message())
        return code


@dataclass(frozen=True)
class CodeProblem:
    """What is wrong with a Python mock's code, and where (``line``/``column`` 1-based)."""

    text: str
    line: int | None = None
    column: int | None = None

    def message(self) -> str:
        return f"line {self.line}: {self.text}" if self.line is not None else self.text


#: The file name a Python mock's code runs under (the sandbox finds its lines by it).
MOCK_FILE = "<mock>"


def mock_code_problem(code: str) -> CodeProblem | None:
    """Why ``code`` cannot be a Python mock (a syntax error at its line, or no ``def mock``);
    None when it can. Only compiled, never run: the sandbox runs it."""
    try:
        tree = ast.parse(code, MOCK_FILE)
    except SyntaxError as err:
        return CodeProblem(f"SyntaxError: {err.msg}", err.lineno, err.offset)
    if not any(isinstance(node, ast.FunctionDef) and node.name == "mock" for node in tree.body):
        return CodeProblem("define a function mock(args) that returns the tool's result")
    return None


class Tool(BaseModel):
    """A function the model may call: its name, what it does and a JSON schema of its arguments.

    ``mock`` is the playground's answer to every call of it (never sent to a model): fixed
    text, or a ``PythonMock`` computing it from the call's arguments. A tool with one answers
    by itself; one without waits for the user to type the result."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(pattern=_NAME)]
    description: str = ""
    parameters: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}}
    )
    mock: str | PythonMock | None = None

    def as_openai(self) -> dict[str, Any]:
        """OpenAI's ``function`` tool: the chat API's and its fine-tuning files' shape."""
        function = {"name": self.name, "description": self.description,
                    "parameters": self.parameters}
        return {"type": "function", "function": function}

    @classmethod
    def from_openai(cls, data: Any) -> Tool:
        """The tool an OpenAI ``function`` tool declares (``as_openai``'s inverse);
        ``ValueError`` (pydantic's, for a bad name) when it is not one."""
        function = data.get("function") if isinstance(data, dict) else None
        if not isinstance(function, dict) or data.get("type", "function") != "function":
            raise ValueError("a tool is {type: function, function: {name, description, "
                             "parameters}}")
        fields = {k: function[k] for k in ("name", "description", "parameters") if k in function}
        return cls.model_validate(fields)

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

    def pretty_arguments(self) -> str:
        """The arguments indented once they are whole JSON; as written if they never parse
        (the model's mistake stays visible)."""
        return pretty_json(self.arguments)

    def same_as(self, other: ToolCall) -> bool:
        """The same tool with the same arguments (as JSON values: spacing and key order aside)."""
        return self.name == other.name and _canonical(self.arguments) == _canonical(other.arguments)


def pretty_json(text: str) -> str:
    """``text`` indented when it is whole JSON (arguments still streaming are not yet)."""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def _canonical(arguments: str) -> str:
    try:
        return json.dumps(json.loads(arguments or "{}"), sort_keys=True)
    except ValueError:
        return arguments


def mock_for(tools: Sequence[Tool], call: ToolCall) -> str | PythonMock | None:
    """The mock of ``call``'s tool: fixed text, or Python code computing the result (None: the
    user answers it; an unknown tool too)."""
    return next((t.mock for t in tools if t.name == call.name), None)


def openai_choice(choice: str) -> str | dict[str, Any]:
    """A tool choice as OpenAI's ``tool_choice``: a mode, or the named function."""
    if choice in TOOL_CHOICE_MODES:
        return choice
    return {"type": "function", "function": {"name": choice}}


def choice_from_openai(value: Any) -> str:
    """The tool choice an OpenAI ``tool_choice`` names (``ValueError`` if it names none)."""
    if isinstance(value, str) and value in TOOL_CHOICE_MODES:
        return value
    function = value.get("function") if isinstance(value, dict) else None
    name = function.get("name") if isinstance(function, dict) else None
    if isinstance(name, str) and name:
        return name
    raise ValueError(f"tool_choice {value!r} is neither {', '.join(TOOL_CHOICE_MODES)} nor "
                     "{type: function, function: {name: ...}}")


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
