"""``workbench count``: counts, exact vs estimate, context fit, cost, JSON and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.core.byte_tokenizer import ByteTokenizer
from workbench.cli import main
from workbench.core.models import Message, Params, PromptTemplate, Variable
from workbench.core.paths import builtin_templates_dir
from workbench.core.template_files import SUFFIX, dumps, read_template
from workbench.core.templates import discover
from workbench.core.tokens import get_encoding, register_tokenizer_factory


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["count", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def write_template(folder: Path, template: PromptTemplate) -> Path:
    path = folder / f"{template.name}{SUFFIX}"
    path.write_text(dumps(template), encoding="utf-8")
    return path


@pytest.fixture
def chat_file(tmp_path: Path) -> Path:
    return write_template(
        tmp_path,
        PromptTemplate(
            name="ask",
            messages=[
                Message(role="system", content="You are {{ tone }}."),
                Message(role="user", content="hello world {{ who }}"),
            ],
            variables=[Variable(name="tone", default="kind"), Variable(name="who")],
            parameters=Params(max_tokens=50),
        ),
    )


def test_text_with_an_encoding(capsys: pytest.CaptureFixture[str]) -> None:
    out = run_json(capsys, "--text", "hello world", "--encoding", "cl100k_base")
    assert (out["tokens"], out["exact"], out["encoding"], out["mode"]) == (
        2,
        True,
        "cl100k_base",
        "text",
    )
    assert (out["context_window"], out["fits"], out["cost"]) == (None, None, None)


def test_text_for_a_model_with_fit_and_cost(capsys: pytest.CaptureFixture[str]) -> None:
    out = run_json(capsys, "--text", "hello world", "--model", "gpt-4o", "--max-tokens", "100")
    assert (out["tokens"], out["exact"], out["encoding"]) == (2, True, "o200k_base")
    assert (out["context_window"], out["max_tokens"]) == (128000, 100)
    assert (out["fits"], out["overflow"], out["remaining"]) == (True, 0, 128000 - 102)
    cost = out["cost"]
    assert cost["currency"] == "USD" and cost["exact"] is True
    assert cost["input"] == pytest.approx(2 * 2.50 / 1e6)
    assert cost["max_output"] == pytest.approx(100 * 10.00 / 1e6)
    assert cost["total"] == pytest.approx(cost["input"] + cost["max_output"])
    assert cost["per_million"] == {"input": 2.5, "output": 10.0}


def test_overflow(capsys: pytest.CaptureFixture[str]) -> None:
    out = run_json(capsys, "--text", "hello world", "--model", "gpt-4", "--max-tokens", "8191")
    assert (out["fits"], out["overflow"], out["remaining"]) == (False, 1, 0)
    assert main(["count", "--text", "hello world", "--model", "gpt-4", "--max-tokens", "8191"]) == 0
    assert "8,193 of 8,192: overflow by 1" in capsys.readouterr().out


def test_an_unknown_model_is_an_estimate_without_cost(capsys: pytest.CaptureFixture[str]) -> None:
    out = run_json(capsys, "--text", "hello world", "--model", "my-local-llama")
    assert (out["exact"], out["encoding"], out["tokens"]) == (False, "o200k_base", 2)
    assert "unknown model 'my-local-llama'" in out["note"]
    assert (out["context_window"], out["fits"], out["cost"]) == (None, None, None)
    assert main(["count", "--text", "hello world", "--model", "my-local-llama"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("tokens:   ≈ 2 (estimate; unknown model 'my-local-llama'")
    assert "context:  unknown (no context window for my-local-llama in models.yaml)" in text
    assert "cost" not in text


def test_a_known_model_without_a_tokenizer_has_an_estimated_cost(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = run_json(capsys, "--text", "hello world", "--model", "claude-3-5-haiku-20241022")
    assert out["exact"] is False and out["context_window"] == 200000
    assert out["cost"]["exact"] is False and out["cost"]["input"] > 0
    assert main(["count", "--text", "hello world", "--model", "claude-3-5-haiku-20241022"]) == 0
    assert "cost:     ≈ 0.0000016 USD input (list price)" in capsys.readouterr().out


def test_text_output_for_an_exact_count(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["count", "--text", "hello world", "--model", "gpt-4o", "--max-tokens", "100"]) == 0
    assert capsys.readouterr().out == (
        "tokens:   2 (exact; gpt-4o uses o200k_base)\n"
        "context:  2 + 100 max_tokens of 128,000: fits (127,898 left)\n"
        "cost:     0.000005 USD input + up to 0.001 output (list price)\n"
    )


def test_a_chat_template_counts_messages_with_overhead(
    chat_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = run_json(capsys, str(chat_file), "--var", "who=Ada", "--model", "gpt-4o")
    encoding = get_encoding("o200k_base")

    def n(text: str) -> int:
        return len(encoding.encode_ordinary(text))

    system = 3 + n("system") + n("You are kind.")
    user = 3 + n("user") + n("hello world Ada")
    assert out["mode"] == "chat"
    assert out["messages"] == [
        {"role": "system", "content_tokens": n("You are kind."), "tokens": system},
        {"role": "user", "content_tokens": n("hello world Ada"), "tokens": user},
    ]
    assert (out["reply_priming"], out["tokens"], out["exact"]) == (3, system + user + 3, True)
    assert out["max_tokens"] == 50  # from the template's parameters
    assert out["remaining"] == 128000 - out["tokens"] - 50
    out = run_json(capsys, str(chat_file), "--var", "who=Ada", "--max-tokens", "7")
    assert out["max_tokens"] == 7 and out["exact"] is True  # no model: the local one, exact


def test_chat_text_output(chat_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["count", str(chat_file), "--var", "who=Ada", "--encoding", "cl100k_base"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("tokens:   ") and "(exact; counted with cl100k_base)" in lines[0]
    assert lines[1].split()[0] == "system" and lines[2].split()[0] == "user"
    assert lines[3].split()[:2] == ["reply", "3"]
    assert lines[4] == "context:  unknown (no model given)"


def test_a_completion_template(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_template(
        tmp_path, PromptTemplate(name="complete", mode="completion", text="Q: {{ q }}\nA:")
    )
    out = run_json(capsys, str(path), "--var", "q=hello world", "--encoding", "cl100k_base")
    expected = len(get_encoding("cl100k_base").encode_ordinary("Q: hello world\nA:"))
    assert (out["mode"], out["tokens"], out["exact"]) == ("completion", expected, True)
    assert "messages" not in out


def test_template_warnings_are_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_template(
        tmp_path, PromptTemplate(name="w", messages=[Message(role="user", content="{{ x }}")])
    )
    out = run_json(capsys, str(path), "--var", "x=1")
    assert out["warnings"] == ["'x' is used but not declared"]


def test_every_builtin_template_can_be_counted(capsys: pytest.CaptureFixture[str]) -> None:
    paths = sorted(builtin_templates_dir().glob(f"*{SUFFIX}"))
    assert len(paths) >= 10
    for path in paths:
        name = path.name.removesuffix(SUFFIX)
        template = read_template(path)
        values = [f"--var={v}=some input text" for v in discover(template).used]
        out = run_json(capsys, name, *values, "--model", "gpt-4o-mini")
        assert out["tokens"] > 0 and out["exact"] is True, name


def test_the_user_model_table_is_used(
    workbench_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = workbench_home / "config"
    config.mkdir(parents=True)
    (config / "models.yaml").write_text(
        "models:\n"
        "  house-model:\n"
        "    encoding: cl100k_base\n"
        "    context_window: 3\n"
        "    price: {input: 1000000, output: 0, currency: EUR}\n",
        encoding="utf-8",
    )
    out = run_json(capsys, "--text", "hello world", "--model", "house-model", "--max-tokens", "2")
    assert (out["exact"], out["encoding"], out["fits"], out["overflow"]) == (
        True,
        "cl100k_base",
        False,
        1,
    )
    assert (out["cost"]["currency"], out["cost"]["input"]) == ("EUR", 2.0)


def test_a_model_specific_tokenizer(capsys: pytest.CaptureFixture[str]) -> None:
    unregister = register_tokenizer_factory(
        lambda model: ByteTokenizer("tiny-bytes") if model == "tiny.gguf" else None
    )
    try:
        out = run_json(capsys, "--text", "héllo", "--model", "tiny.gguf")
    finally:
        unregister()
    assert (out["tokens"], out["exact"], out["encoding"], out["tokenizer"]) == (
        6,
        True,
        None,
        "tiny-bytes",
    )


def _local_figures(template: str) -> tuple[int, int]:
    """What the local backend itself reads for the template (as ``run`` and the app count)."""
    from workbench.backends.llamacpp import LlamaCppBackend
    from workbench.services.runner import build_request

    backend = LlamaCppBackend()
    try:
        path = builtin_templates_dir() / f"{template}{SUFFIX}"
        request = build_request(read_template(path), {}, backend=backend.id)
        return len(backend.preview(request).tokens), backend.list_models()[0].context_window
    finally:
        backend.close()


@pytest.mark.slow  # reads the embedded model's tokenizer and chat template
def test_the_local_model_counts_exactly_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    tokens, window = _local_figures("welcome")
    out = run_json(capsys, "welcome")
    assert (out["tokens"], out["exact"], out["context_window"]) == (tokens, True, window)
    assert (out["backend"], out["max_tokens"], out["cost"]) == ("llamacpp", 256, None)
    assert out["remaining"] == window - tokens - 256
    same = run_json(capsys, "welcome", "--model", "smollm2-135m-instruct", "--backend", "llamacpp")
    assert (same["tokens"], same["exact"]) == (tokens, True)
    assert main(["count", "welcome", "--model", "smollm2-135m-instruct"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"tokens:   {tokens} (exact; ")
    assert lines[1] == f"context:  {tokens} + 256 max_tokens of {window:,}: fits " + (
        f"({window - tokens - 256:,} left)"
    )


def test_backend_and_encoding_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["count", "--text", "x", "--backend", "llamacpp", "--encoding", "cl100k_base"]) == 1
    assert "not both" in capsys.readouterr().err


# --- errors ---


def one_line_error(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["count", *args]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith("workbench count: ")
    return captured.err


def test_user_errors_exit_1_with_one_line(
    chat_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "unknown or unavailable encoding 'p50k'" in one_line_error(
        capsys, "--text", "x", "--encoding", "p50k"
    )
    assert "no exact tokenizer: unknown model 'mystery'" in one_line_error(
        capsys, "--text", "x", "--model", "mystery", "--exact-only"
    )
    assert "'who'" in one_line_error(capsys, str(chat_file))
    assert "no-such-template" in one_line_error(capsys, "no-such-template")
    assert "--var only applies" in one_line_error(capsys, "--text", "x", "--var", "a=b")


def test_exact_only_passes_for_an_exact_count(capsys: pytest.CaptureFixture[str]) -> None:
    out = run_json(capsys, "--text", "x", "--model", "gpt-4o", "--exact-only")
    assert out["exact"] is True


def test_a_broken_user_model_table_exits_1(
    workbench_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = workbench_home / "config"
    config.mkdir(parents=True)
    (config / "models.yaml").write_text("models: [oops\n", encoding="utf-8")
    assert "not valid YAML" in one_line_error(capsys, "--text", "x", "--model", "gpt-4o")


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["template", "--text", "x"],
        ["--text", "x", "--model", "gpt-4o", "--encoding", "cl100k_base"],
        ["--text", "x", "--max-tokens", "0"],
        ["--text", "x", "--max-tokens", "many"],
        ["--text"],
        ["--text", "x", "--bogus"],
        ["template", "--var", "novalue"],
    ],
)
def test_usage_errors_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["count", *args])
    assert exit_info.value.code == 2
    assert "usage: workbench" in capsys.readouterr().err


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["count", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for option in (
        "--text",
        "--model",
        "--encoding",
        "--max-tokens",
        "--var",
        "--json",
        "models.yaml",
    ):
        assert option in out


@pytest.fixture
def executable() -> Iterator[Path]:
    path = Path(sys.executable).parent / "workbench"
    if not path.is_file():
        pytest.fail(f"{path} is missing: run `pip install -e .` in the venv")
    yield path


def test_the_installed_command(executable: Path) -> None:
    result = subprocess.run(
        [str(executable), "count", "--text", "hello world", "--encoding", "cl100k_base", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TIKTOKEN_CACHE_DIR": "/nonexistent-tiktoken-cache"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert (out["tokens"], out["exact"], out["encoding"]) == (2, True, "cl100k_base")
