"""The template file format: canonical text, byte-exact round trips, line-numbered errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.core.errors import TemplateFileError
from workbench.core.models import (
    Components,
    Example,
    FewShot,
    Message,
    Params,
    PromptTemplate,
    Variable,
)
from workbench.core.template_files import TemplateFile, dumps, loads

# Any text a user could type, including CR, tabs, trailing spaces and unusual unicode.
texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=80)
names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True)

params = st.builds(
    Params,
    temperature=st.none() | st.floats(0, 2, allow_nan=False),
    top_k=st.none() | st.integers(0, 200),
    max_tokens=st.none() | st.integers(1, 4096),
    stop=st.lists(texts.filter(bool), max_size=3),
    seed=st.none() | st.integers(-(2**31), 2**31),
    greedy=st.booleans(),
)


@st.composite
def templates(draw: st.DrawFn) -> PromptTemplate:
    mode = draw(st.sampled_from(["chat", "completion"]))
    variables = draw(
        st.lists(
            st.builds(Variable, name=names, description=texts, default=st.none() | texts),
            max_size=3,
            unique_by=lambda v: v.name,
        )
    )
    return PromptTemplate(
        name=draw(texts.filter(bool)),
        description=draw(texts),
        tags=draw(st.lists(texts, max_size=3)),
        technique=draw(st.sampled_from(["zero-shot", "few-shot", "chain-of-thought"])),
        mode=mode,
        messages=draw(
            st.lists(
                st.builds(
                    Message,
                    role=st.sampled_from(["system", "user", "assistant"]),
                    content=texts,
                    literal=st.booleans(),
                ),
                max_size=3,
            )
        )
        if mode == "chat"
        else [],
        text=draw(texts) if mode == "completion" else "",
        variables=variables,
        examples=draw(
            st.lists(st.builds(Example, input=texts, output=texts, rationale=texts), max_size=2)
        ),
        few_shot=draw(
            st.builds(
                FewShot,
                k=st.none() | st.integers(0, 5),
                order=st.sampled_from(["fixed", "shuffle"]),
                seed=st.integers(0, 99),
                separator=texts,
            )
        ),
        components=draw(st.builds(Components, instruction=texts, context=texts)),
        parameters=draw(params),
        answer_pattern=draw(texts),
    )


@settings(max_examples=300, deadline=None)
@given(templates())
def test_dump_load_round_trip_is_exact(template: PromptTemplate) -> None:
    text = dumps(template)
    loaded = loads(text)
    assert loaded == template
    assert dumps(loaded) == text


def test_the_file_reads_like_the_prompt() -> None:
    template = PromptTemplate(
        name="summarize",
        tags=["support"],
        messages=[
            Message(role="system", content="You are a support analyst."),
            Message(role="user", content="Summarize:\n{{ ticket }}\n"),
        ],
        variables=[Variable(name="ticket", description="The ticket text")],
        parameters=Params(temperature=0.2),
    )
    assert dumps(template) == (
        "format_version: 1\n"
        "name: summarize\n"
        "tags:\n- support\n"
        "messages:\n"
        "- role: system\n  content: You are a support analyst.\n"
        "- role: user\n  content: |\n    Summarize:\n    {{ ticket }}\n"
        "variables:\n- name: ticket\n  description: The ticket text\n"
        "parameters:\n  temperature: 0.2\n"
    )


def test_unchanged_hand_written_file_is_kept_byte_for_byte(tmp_path: Path) -> None:
    text = (
        "# my favourite prompt\n"
        "format_version: 1\n"
        "name:   hello   # trailing comment\n"
        "messages:\n"
        "  - {role: user, content: 'Hi {{ who }}'}\n"
        "variables: [{name: who, default: world}]\n"
    )
    path = tmp_path / "hello.prompt.yaml"
    path.write_bytes(text.encode())
    file = TemplateFile.read(path)
    assert file.text_for(file.template) == text
    changed = file.template.model_copy(update={"description": "new"})
    assert file.text_for(changed) == text.replace(  # only the new entry is written
        "comment\n", "comment\ndescription: new\n")


COMMENTED = (
    "# Triage prompt: keep it short, the pager is read on phones.\n"
    "format_version: 1\n"
    "name: triage  # shown in the library\n"
    "\n"
    "# the wording that won the A/B test of March\n"
    "messages:\n"
    "  - role: system\n"
    "    content: You are a support analyst.\n"
    "  # the ticket goes last\n"
    "  - role: user\n"
    "    content: |\n"
    "      Summarize:\n"
    "      {{ ticket }}\n"
    "\n"
    "# why these tags: the team's dashboards filter on them\n"
    "tags: [support, pager]\n"
    "parameters:\n"
    "  temperature: 0.2  # low: the same ticket, the same summary\n"
    "# end of the file\n"
)


def _read(tmp_path: Path, text: str) -> TemplateFile:
    path = tmp_path / "triage.prompt.yaml"
    path.write_bytes(text.encode())
    return TemplateFile.read(path)


def test_an_edit_rewrites_only_what_changed_keeping_the_comments(tmp_path: Path) -> None:
    file = _read(tmp_path, COMMENTED)
    user = file.template.messages[1].model_copy(
        update={"content": "Summarize briefly:\n{{ ticket }}\n"})
    edited = file.template.model_copy(update={
        "messages": [file.template.messages[0], user],
        "parameters": file.template.parameters.model_copy(update={"temperature": 0.3})})
    text = file.text_for(edited)
    assert loads(text) == edited
    # Everything around the two changed entries is as written; they are written afresh.
    kept = [line for line in COMMENTED.splitlines() if "#" in line and "ticket goes" not in line
            and "low:" not in line]
    assert all(line in text.splitlines() for line in kept)
    assert "tags: [support, pager]" in text and "Summarize briefly:" in text
    assert "temperature: 0.3" in text and "# low:" not in text
    assert text.startswith("# Triage prompt") and text.endswith("# end of the file\n")


def test_a_removed_entry_takes_its_comment_and_a_new_one_follows_its_neighbour(
    tmp_path: Path,
) -> None:
    file = _read(tmp_path, COMMENTED)
    edited = file.template.model_copy(update={"tags": [], "description": "For the pager"})
    text = file.text_for(edited)
    assert loads(text) == edited
    assert "tags" not in text and "dashboards" not in text
    assert "name: triage  # shown in the library\ndescription: For the pager\n" in text
    assert "# the wording that won" in text


def test_line_endings_and_a_missing_last_break_are_kept(tmp_path: Path) -> None:
    text = "format_version: 1\r\nname: hi\r\nmessages:\r\n- role: user\r\n  content: hello"
    file = _read(tmp_path, text)
    edited = file.template.model_copy(update={"description": "d", "tags": ["t"]})
    written = file.text_for(edited)
    assert loads(written) == edited
    assert "\n" not in written.replace("\r\n", "")  # every break is the file's own
    assert written.startswith("format_version: 1\r\nname: hi\r\ndescription: d\r\n")


def test_a_file_that_is_no_block_mapping_is_written_canonically(tmp_path: Path) -> None:
    file = _read(tmp_path, "{format_version: 1, name: hi, messages: [{role: user, content: x}]}\n")
    edited = file.template.model_copy(update={"description": "d"})
    assert file.text_for(edited) == dumps(edited)


@given(templates(), templates())
@settings(max_examples=60, deadline=None)
def test_any_edit_of_a_file_reads_back_as_the_edit(
    tmp_path_factory: pytest.TempPathFactory, first: PromptTemplate, second: PromptTemplate
) -> None:
    path = tmp_path_factory.mktemp("edit") / "t.prompt.yaml"
    path.write_bytes(("# kept\n" + dumps(first)).encode())
    file = TemplateFile.read(path)
    written = file.text_for(second)
    assert loads(written) == second
    assert written.startswith("# kept\n")  # patched, not rewritten whole


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        (
            "format_version: 1\nname: x\nmessages:\n  - role: user\n    content: [unclosed\n",
            5,
            "not valid YAML: '[' is not closed",
        ),
        ("format_version: 1\nname: [bad\nmessages:\n", 2, "'[' is not closed"),
        ("format_version: 1\nname: {bad\nmessages: x\n", 2, "'{' is not closed"),
        ('format_version: 1\nname: "bad\nmessages: x\n', 2, "the quote is not closed"),
        ("format_version: 1\nname: 'bad\n", 2, "the quote is not closed"),
        ("format_version: 1\nname: a: b\nmessages: x\n", 2, "mapping values are not allowed"),
        ("format_version: 1\nname: a\n  b: c\nmessages: x\n", 3, "mapping values"),
        ("format_version: 1\nname: *nope\n", 2, "undefined alias"),
        ("format_version: 1\nname: [\n\n", 2, "expected node content"),
        (
            "format_version: 1\nname: x\nmessages:\n  - role: robot\n    content: hi\n",
            4,
            "messages.0.role",
        ),
        (
            "format_version: 1\nname: x\nparameters:\n  temperature: 9\n",
            4,
            "parameters.temperature",
        ),
        ("format_version: 1\nname: x\nbogus_key: 1\n", 3, "bogus_key"),
        ("name: x\n", 1, "start the file with 'format_version: 1'"),
        ("format_version: 99\nname: x\n", 1, "newer than this app"),
        ("- just\n- a list\n", 1, "mapping"),
    ],
)
def test_bad_files_name_file_line_and_reason(
    tmp_path: Path, text: str, line: int, reason: str
) -> None:
    path = tmp_path / "bad.prompt.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TemplateFileError) as info:
        TemplateFile.read(path)
    assert info.value.line == line, str(info.value)
    assert reason in info.value.reason
    assert str(info.value).startswith(f"{path}:{line}: ")


def test_not_utf8_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.prompt.yaml"
    path.write_bytes("format_version: 1\nname: caf\xe9\n".encode("latin-1"))
    with pytest.raises(TemplateFileError, match="not UTF-8"):
        TemplateFile.read(path)
