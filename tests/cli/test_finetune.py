"""``workbench finetune check``: JSON shape, text output, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.storage.test_finetune import GOOD, MALFORMED
from workbench.cli import main


def test_malformed_file_exits_1_with_counts_per_error_type(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join(MALFORMED) + "\n", encoding="utf-8")
    assert main(["finetune", "check", str(path), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["examples"] == 10 and data["ok"] is False
    assert data["format_errors"]["missing_content"] == 2
    assert all(
        data["format_errors"][k] == 1
        for k in (
            "data_type",
            "missing_messages_list",
            "message_missing_key",
            "message_unrecognized_key",
            "unrecognized_role",
            "example_missing_assistant_message",
            "invalid_json",
        )
    )
    assert {"line": 9, "key": "invalid_json", "message": data["issues"][-1]["message"]} == data[
        "issues"
    ][-1]
    assert data["tokens"]["encoding"] == "cl100k_base"
    assert data["tokens"]["per_example"]["min"] == 14
    assert data["warnings"] == []  # 10 examples is the minimum, not below it


def test_valid_file_exits_0_and_prints_a_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "train.jsonl"
    path.write_text((json.dumps(GOOD) + "\n") * 3, encoding="utf-8")
    assert main(["finetune", "check", str(path)]) == 0
    captured = capsys.readouterr()
    assert f"{path}: 3 examples" in captured.out
    assert "Format errors: none" in captured.out
    assert "Tokens per example: min 14 / max 14" in captured.out
    assert "warning: 3 examples: fine-tuning needs at least 10" in captured.err


def test_token_limit_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps(GOOD) + "\n", encoding="utf-8")
    assert (
        main(
            ["finetune", "check", str(path), "--json", "--token-limit", "10", "--min-examples", "1"]
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["tokens"]["over_limit"] == 1 and data["tokens"]["token_limit"] == 10
    assert len(data["warnings"]) == 1 and "over the 10 token limit" in data["warnings"][0]


def test_unreadable_files_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["finetune", "check", str(tmp_path / "missing.jsonl")]) == 1
    assert "cannot read" in capsys.readouterr().err
    binary = tmp_path / "bin.jsonl"
    binary.write_bytes(b'{"messages": []}\n\xff\xfe\n')
    assert main(["finetune", "check", str(binary)]) == 1
    assert f"{binary}:2: not UTF-8 text" in capsys.readouterr().err


def test_usage_errors_exit_2() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "workbench", "finetune"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "COMMAND" in result.stderr
