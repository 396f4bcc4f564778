"""The command-line reference (``docs/cli.md``), generated from the argument parser.

The parser is the single source of the commands, arguments, defaults, choices and help texts, so
the reference is written from it rather than by hand, and ``tests/cli/test_reference.py`` fails
when the checked-in file is stale. Regenerate it with::

    python -m workbench.cli._reference docs/cli.md

The output depends only on the parser: argparse's own help layout (which follows the terminal
width) is not used, and the per-user folders a help text may name are written as placeholders.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator
from pathlib import Path

from workbench.cli import build_parser

REGENERATE = "python -m workbench.cli._reference docs/cli.md"

# What ``workbench.cli.main`` returns; a command's own description says what its 1 means.
EXIT_CODES = (
    ("0", "success"),
    ("1", "a problem the command reports on one line of standard error (a missing file, a "
     "failed run, unmet evaluation criteria…); no traceback"),
    ("2", "usage error: an unknown option or an invalid value (argparse's message)"),
    ("130", "interrupted with Ctrl+C (a cancelled run is still saved)"),
)

# An underscore between two letters or digits (variable_sets) cannot start emphasis: kept bare.
_MARKDOWN_SPECIAL = re.compile(r"[\\`*\[\]<|]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def _escape(text: str) -> str:
    """Prose that renders as written: argparse help is plain text, not Markdown."""
    return _MARKDOWN_SPECIAL.sub(lambda m: "\\" + m.group(0), text)


def _placeholders() -> list[tuple[str, str]]:
    """Per-user folders a help text may name (``count`` names its models.yaml), longest first,
    with what the reference says instead: the file must not depend on who generated it."""
    from workbench.core import paths

    folders = [
        (str(paths.config_dir()), "<config folder>"),
        (str(paths.data_dir()), "<data folder>"),
        (str(paths.cache_dir()), "<cache folder>"),
        (str(Path.home()), "~"),
    ]
    # A home of "/" (some containers) must not turn every slash into "~".
    folders = [(path, name) for path, name in folders if len(Path(path).parts) > 1]
    return sorted(folders, key=lambda pair: len(pair[0]), reverse=True)


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self._places = _placeholders()

    def text(self, value: str) -> str:
        for path, placeholder in self._places:
            value = value.replace(path, placeholder)
        return value

    def prose(self, value: str | None) -> str:
        return _escape(" ".join(self.text(value or "").split()))

    def add(self, *lines: str) -> None:
        self.lines.extend(lines)


def _help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    """The action's help with argparse's ``%(default)s``-style fields filled in."""
    if not action.help:
        return ""
    if "%" not in action.help:
        return action.help
    return argparse.HelpFormatter(parser.prog)._expand_help(action)


def _metavar(action: argparse.Action) -> str:
    if action.metavar is not None:
        metavar = action.metavar
        return metavar if isinstance(metavar, str) else " ".join(metavar)
    if action.option_strings:
        return action.dest.upper()
    return action.dest


def _value_form(action: argparse.Action) -> str:
    """How the value is written: ``N``, ``[N]``, ``N [N ...]``; empty for a flag."""
    if action.nargs == 0:
        return ""
    name = _metavar(action)
    if action.nargs is None:
        return name
    if action.nargs == argparse.OPTIONAL:
        return f"[{name}]"
    if action.nargs == argparse.ZERO_OR_MORE:
        return f"[{name} ...]"
    if action.nargs == argparse.ONE_OR_MORE:
        return f"{name} [{name} ...]"
    if isinstance(action.nargs, int):
        return " ".join([name] * action.nargs)
    return name


def _choices(action: argparse.Action) -> str:
    values = [str(v) for v in action.choices or ()]
    if isinstance(action.choices, range) and len(values) > 2:
        return f"{values[0]} to {values[-1]}"
    return ", ".join(f"`{v}`" for v in values)


def _facts(action: argparse.Action, writer: _Writer) -> list[str]:
    """Required, repeatable, choices and default: what the help text may not say."""
    facts: list[str] = []
    if action.option_strings and action.required:
        facts.append("required")
    if isinstance(action, argparse._AppendAction) and "repeat" not in (action.help or ""):
        facts.append("repeatable")
    if action.choices is not None and not isinstance(action, argparse._SubParsersAction):
        facts.append(f"choices: {_choices(action)}")
    default = action.default
    stated = "default" in (action.help or "").lower()  # "(default: llamacpp, the local model)"
    if action.nargs != 0 and not stated and default not in (None, "", [], argparse.SUPPRESS):
        facts.append(f"default: `{writer.text(str(default))}`")
    return facts


def _entry(parser: argparse.ArgumentParser, action: argparse.Action, writer: _Writer) -> str:
    if action.option_strings:
        value = _value_form(action)
        names = ", ".join(f"`{o}{' ' + value if value else ''}`" for o in action.option_strings)
    else:
        names = f"`{_value_form(action)}`"
    help_text = writer.prose(_help(parser, action))
    facts = _facts(action, writer)
    detail = " — ".join(part for part in (help_text, "; ".join(facts)) if part)
    return f"- {names}" + (f": {detail}" if detail else "")


def _subcommands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def _children(
    action: argparse._SubParsersAction,
) -> Iterator[tuple[str, str, argparse.ArgumentParser]]:
    """Each sub-command once (aliases map to the same parser), in registration order."""
    helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
    seen: set[int] = set()
    for name, child in action.choices.items():
        if id(child) not in seen:
            seen.add(id(child))
            yield name, helps.get(name, ""), child


def _synopsis(parser: argparse.ArgumentParser) -> str:
    parts = [parser.prog]
    visible = [a for a in parser._actions if a.help != argparse.SUPPRESS]
    if any(a.option_strings for a in visible if _documented(a)):
        parts.append("[OPTIONS]")
    for action in visible:
        if action.option_strings:
            continue
        if isinstance(action, argparse._SubParsersAction):
            name = _metavar(action)
            parts.append(name if action.required else f"[{name}]")
        else:
            parts.append(_value_form(action))
    return " ".join(parts)


def _documented(action: argparse.Action) -> bool:
    """Not hidden, not ``-h`` (the header says every command has it), not the sub-commands
    (listed apart)."""
    return action.help != argparse.SUPPRESS and not isinstance(
        action, argparse._HelpAction | argparse._SubParsersAction
    )


def _arguments(parser: argparse.ArgumentParser, writer: _Writer) -> None:
    """Positionals, then each option group (argparse's own ``options``, then named groups)."""
    for group in parser._action_groups:
        actions = [a for a in group._group_actions if _documented(a)]
        if not actions:
            continue
        if all(not a.option_strings for a in actions):
            title = "Arguments"
        elif group.title in ("options", "optional arguments"):
            title = "Options"
        else:
            title = f"Options ({group.title})"
        writer.add(f"**{title}**", "")
        writer.add(*(_entry(parser, a, writer) for a in actions), "")
    for mutex in parser._mutually_exclusive_groups:
        names = ", ".join(
            f"`{a.option_strings[0] if a.option_strings else _metavar(a)}`"
            for a in mutex._group_actions
        )
        rule = "Exactly one of" if mutex.required else "At most one of"
        writer.add(f"{rule} {names}.", "")


def _anchor(prog: str) -> str:
    return re.sub(r"[^a-z0-9 -]", "", prog.lower()).replace(" ", "-")


def _sentence(text: str) -> str:
    """Help texts are phrases ("list the templates"); the reference shows them as sentences."""
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "?", "!")) else ".")


def _command(parser: argparse.ArgumentParser, summary: str, writer: _Writer, depth: int) -> None:
    writer.add(f"{'#' * depth} `{parser.prog}`", "")
    if summary and summary != parser.description:
        writer.add(writer.prose(_sentence(summary)), "")
    if parser.description:
        writer.add(writer.prose(_sentence(parser.description)), "")
    writer.add("```text", _synopsis(parser), "```", "")
    _arguments(parser, writer)
    if parser.epilog:
        # The epilogs are laid out by hand (RawDescriptionHelpFormatter): kept as they are.
        writer.add("```text", writer.text(parser.epilog), "```", "")
    sub = _subcommands(parser)
    if sub is None:
        return
    children = list(_children(sub))
    writer.add(f"**{_metavar(sub).capitalize()}s**", "")
    writer.add(
        *(f"- [`{name}`](#{_anchor(child.prog)}): {writer.prose(help_text)}"
          for name, help_text, child in children),
        "",
    )
    for _, help_text, child in children:
        _command(child, help_text, writer, depth + 1)


def reference(parser: argparse.ArgumentParser | None = None) -> str:
    """The whole reference as Markdown, for ``parser`` (default: the full ``workbench`` one)."""
    parser = parser or build_parser()
    writer = _Writer()
    writer.add(
        "# Command-line reference",
        "",
        "<!-- Generated from workbench.cli.build_parser() by workbench/cli/_reference.py: do "
        f"not edit by hand. Regenerate with `{REGENERATE}`; tests/cli/test_reference.py fails "
        "when this file is stale. -->",
        "",
        "Every command also answers `-h` / `--help`. Placeholders: `<config folder>` and "
        "`<data folder>` are the per-user folders (`WORKBENCH_HOME/config` and "
        "`WORKBENCH_HOME/data` when `WORKBENCH_HOME` is set).",
        "",
        "**Exit codes** (every command)",
        "",
        "| Code | Meaning |",
        "| --- | --- |",
        *(f"| {code} | {_escape(meaning)} |" for code, meaning in EXIT_CODES),
        "",
    )
    _command(parser, "", writer, 2)
    return "\n".join(writer.lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    """Print the reference, or write it to the one path given (UTF-8, ``\\n`` line ends)."""
    args = sys.argv[1:] if argv is None else argv
    text = reference()
    if not args:
        sys.stdout.write(text)
        return 0
    Path(args[0]).write_text(text, encoding="utf-8", newline="\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
