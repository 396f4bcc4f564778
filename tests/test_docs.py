"""The manual stays honest: its links and images resolve, its commands parse, and its reference
tables name everything the code reads.

Every relative link and image in ``docs/*.md`` and ``README.md`` must point at a file (and at a
heading of it, when the link names one); every ``workbench ...`` line in a shell code block must
parse with the real command-line parser, so a renamed command or option breaks this test instead
of the reader's copy-paste; every template key, technique, parameter, backend option, sweep and
suite key, assertion type and format the code knows is named in its chapter. Images are used
somewhere and stay small.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

import workbench.core.assertions  # noqa: F401  (registers the assertion types)
from workbench.backends.registry import default_registry
from workbench.cli import _is_file, build_parser
from workbench.core.conversation_case import ConversationCase, SimulatedUser, UserTurn
from workbench.core.evaluation import registry
from workbench.core.images import ImagePart
from workbench.core.models import FewShot, Message, Params, PromptTemplate, Variable
from workbench.core.params import PARAM_NAMES
from workbench.core.sweep_file import _SweepFile
from workbench.core.techniques import techniques
from workbench.services.suites import SuiteFile, VariantEntry
from workbench.storage.formats import FORMATS

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
PAGES = sorted([*DOCS.glob("*.md"), REPO / "README.md"])
IMAGES = DOCS / "images"
MAX_IMAGE_BYTES = 200_000

_FENCE = re.compile(r"^(`{3,})(\w*)[^\n]*\n(.*?)^\1[ \t]*$", re.MULTILINE | re.DOTALL)
_INLINE_CODE = re.compile(r"`[^`\n]+`")
_LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(([^)\s]+)\)")
_SHELL = {"sh", "bash", "shell", "console"}
_SEPARATORS = {"&&", "||", "|", ";", "&"}
_REDIRECTS = {"<", ">", ">>", "2>", "2>&1"}


def _prose(text: str) -> str:
    """The page without its code blocks and inline code (links there are examples, not links)."""
    return _INLINE_CODE.sub("", _FENCE.sub("", text))


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip()).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = _FENCE.sub("", page.read_text(encoding="utf-8"))
    return {_slug(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.+?)\s*#*$", text, re.MULTILINE)}


def _links(page: Path) -> Iterator[str]:
    for match in _LINK.finditer(_prose(page.read_text(encoding="utf-8"))):
        target = match.group(1)
        if not re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            yield target


def _link_problem(page: Path, target: str) -> str | None:
    path_part, _, anchor = target.partition("#")
    resolved = (page.parent / path_part).resolve() if path_part else page
    if not resolved.exists():
        return f"{target}: no such file"
    if anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
        return f"{target}: no heading #{anchor} in {resolved.name}"
    return None


def _shell_lines(text: str) -> Iterator[str]:
    for match in _FENCE.finditer(text):
        if match.group(2) in _SHELL:
            yield from match.group(3).replace("\\\n", " ").splitlines()


def _split_commands(line: str) -> Iterator[list[str]]:
    """The argument lists of the ``workbench`` commands on one shell line (``&&``, ``|`` and
    ``;`` separate commands; redirections are dropped)."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    skip = False
    for token in lexer:
        if skip:
            skip = False
        elif token in _SEPARATORS:
            commands.append([])
        elif token in _REDIRECTS:
            skip = True
        else:
            commands[-1].append(token)
    for command in commands:
        while command and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", command[0]):
            command = command[1:]  # an environment assignment: WORKBENCH_HOME=... workbench
        if command and Path(command[0]).name == "workbench":
            yield command[1:]


def _parse(args: list[str]) -> str | None:
    """None when ``args`` parse, else argparse's complaint (a template file alone opens the app,
    as ``workbench.cli.main`` reads it before the parser)."""
    if len(args) == 1 and _is_file(args[0], build_parser()):
        return None
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            build_parser().parse_args(args)
    except SystemExit as exit_:
        if exit_.code not in (0, None):
            return err.getvalue().strip().splitlines()[-1]
    return None


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def test_the_manual_has_its_chapters_and_an_index_linking_them() -> None:
    chapters = sorted(p.name for p in DOCS.glob("[0-9][0-9]-*.md"))
    assert len(chapters) == 9, chapters
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    linked = [m for m in re.findall(r"\]\(([^)#]+)", index) if m in chapters]
    assert linked == chapters, "docs/README.md links every chapter once, in order"
    assert "docs/README.md" in (REPO / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_relative_link_and_image_resolves(page: Path) -> None:
    problems = [p for t in _links(page) if (p := _link_problem(page, t))]
    assert not problems, f"{page.name}: " + "; ".join(problems)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_workbench_command_in_a_shell_block_parses(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    problems = [
        f"`workbench {shlex.join(args)}`: {problem}"
        for line in _shell_lines(text)
        for args in _split_commands(line)
        if (problem := _parse(args))
    ]
    assert not problems, f"{page.name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_workbench_command_named_in_the_text_exists(page: Path) -> None:
    """Inline code such as `workbench key set NAME` names real commands (placeholders in
    capitals, such as COMMAND, are left alone)."""
    parser = build_parser()
    problems = []
    for code in _INLINE_CODE.findall(_FENCE.sub("", page.read_text(encoding="utf-8"))):
        words = code.strip("`").split()
        if not words or Path(words[0]).name != "workbench":
            continue
        current = parser
        for word in words[1:]:
            choices = _subcommands(current)
            if not choices or not re.fullmatch(r"[a-z][a-z_-]*", word):
                break
            if word not in choices:
                problems.append(f"{code}: '{word}' is not a command")
                break
            current = choices[word]
    assert not problems, f"{page.name}: " + "; ".join(problems)


def test_the_checks_catch_a_broken_link_and_a_wrong_command(tmp_path: Path) -> None:
    """The helpers above are not vacuous: a missing file, a missing heading, an unknown command
    and an unknown option are each reported."""
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n[a](missing.md) [b](page.md#nowhere) [c](page.md#title)\n")
    assert [_link_problem(page, t) for t in _links(page)] == [
        "missing.md: no such file",
        "page.md#nowhere: no heading #nowhere in page.md",
        None,
    ]
    block = (
        "```sh\nworkbench rnu welcome && workbench run welcome --bogus\n"
        "X=1 workbench --version  # a comment\nworkbench key set k < key.txt\n"
        "workbench my.prompt.yaml\nworkbench my.prompt.yaml --json\n```\n"
    )
    commands = [args for line in _shell_lines(block) for args in _split_commands(line)]
    assert commands[2:4] == [["--version"], ["key", "set", "k"]]
    parsed = [_parse(args) for args in commands]
    assert parsed[0] is not None and "invalid choice: 'rnu'" in parsed[0]
    assert parsed[1] is not None and "--bogus" in parsed[1]
    assert parsed[2:5] == [None, None, None]
    assert parsed[5] is not None  # a file to open takes no other arguments


def test_images_are_used_and_small() -> None:
    used = {
        (page.parent / target).resolve()
        for page in PAGES
        for target in _links(page)
        if target.endswith(".png")
    }
    for image in sorted(IMAGES.glob("*.png")):
        assert image.resolve() in used, f"{image.name} is not used by any page"
        assert image.stat().st_size < MAX_IMAGE_BYTES, f"{image.name} is over 200 KB"


def _reference_names() -> list[tuple[str, str, list[str]]]:
    """(chapter, what, names): every key, type or id the code reads, which the chapter's tables
    must name in backticks."""
    backends = default_registry()
    return [
        ("02-templates.md", "template keys", list(PromptTemplate.model_fields)),
        ("02-templates.md", "message keys", list(Message.model_fields)),
        ("02-templates.md", "image keys", list(ImagePart.model_fields)),
        ("02-templates.md", "few_shot keys", list(FewShot.model_fields)),
        ("02-templates.md", "variable keys", list(Variable.model_fields)),
        ("02-templates.md", "techniques", [t.id for t in techniques()]),
        ("03-parameters.md", "parameters", [*PARAM_NAMES, *Params.model_fields]),
        *[
            ("04-backends.md", f"{name} options", list(backends.load(name).Options.model_fields))
            for name in ("llamacpp", "openai_compat", "anthropic", "bedrock", "ollama")
        ],
        ("05-compare-and-sweeps.md", "sweep file keys", list(_SweepFile.model_fields)),
        ("06-evaluations.md", "suite keys",
         [f.alias or name for name, f in SuiteFile.model_fields.items()]),
        ("06-evaluations.md", "variant keys", list(VariantEntry.model_fields)),
        *[
            ("06-evaluations.md", f"{model.__name__} keys",
             [f.alias or name for name, f in model.model_fields.items()])
            for model in (ConversationCase, UserTurn, SimulatedUser)
        ],
        ("06-evaluations.md", "assertion types", sorted(registry())),
        ("07-library-and-formats.md", "formats", list(FORMATS)),
    ]


def test_the_reference_tables_name_everything_the_code_reads() -> None:
    """A key, assertion type, technique, option or format added to the code without a line in
    its chapter fails here, naming what is missing."""
    missing = []
    for chapter, what, names in _reference_names():
        text = (DOCS / chapter).read_text(encoding="utf-8")
        absent = [n for n in names if f"`{n}`" not in text]
        if absent:
            missing.append(f"{chapter}: {what} not documented: {', '.join(absent)}")
    assert not missing, "\n".join(missing)


def test_the_simulated_users_default_prompt_is_quoted_as_the_code_sends_it() -> None:
    """The manual quotes the default simulated-user prompt rather than pointing at the source;
    an edit of the prompt without the manual fails here."""
    from workbench.core.conversation_case import USER_PROMPT

    text = (DOCS / "06-evaluations.md").read_text(encoding="utf-8")
    assert f"```jinja\n{USER_PROMPT}\n```" in text
    assert "conversation_case.py" not in text
