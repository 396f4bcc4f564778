"""``workbench run`` and ``workbench backends``, as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.cli.run import parse_params
from workbench.core.errors import KnownError, ParameterError
from workbench.core.models import Message, Params, PromptTemplate
from workbench.core.paths import builtin_templates_dir
from workbench.core.template_files import SUFFIX, dumps
from workbench.core.tools import PythonMock, Tool

WORKBENCH = Path(sys.executable).parent / "workbench"

#: Makes every non-loopback connection (and name lookup) fail, and records the attempt.
NO_NETWORK = textwrap.dedent(
    """
    import os, socket
    _log = os.environ["NETWORK_ATTEMPTS_LOG"]
    _LOCAL = ("127.0.0.1", "::1", "localhost")

    def _record(what):
        with open(_log, "a") as f:
            f.write(repr(what) + "\\n")
        raise OSError("network blocked by the test")

    _connect = socket.socket.connect
    _connect_ex = socket.socket.connect_ex

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in _LOCAL:
            _record(address)
        return _connect(self, address)

    def connect_ex(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in _LOCAL:
            _record(address)
        return _connect_ex(self, address)

    _getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if host not in _LOCAL and host is not None:
            _record(("dns", host))
        return _getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex
    socket.getaddrinfo = getaddrinfo
    """
)


def write_template(path: Path, **fields: object) -> Path:
    template = PromptTemplate(
        name=fields.pop("name", "t"),  # type: ignore[arg-type]
        messages=fields.pop("messages", [Message(role="user", content="Say hello to {{ who }}.")]),  # type: ignore[arg-type]
        **fields,  # type: ignore[arg-type]
    )
    path.write_text(dumps(template), encoding="utf-8")
    return path


def offline_env(tmp_path: Path) -> tuple[dict[str, str], Path]:
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(NO_NETWORK)
    attempts = tmp_path / "attempts.log"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(guard), env.get("PYTHONPATH", "")])
    env["NETWORK_ATTEMPTS_LOG"] = str(attempts)
    env["WORKBENCH_HOME"] = str(tmp_path / "home")
    return env, attempts


@pytest.mark.slow
def test_run_offline_streams_an_answer_from_the_embedded_model(tmp_path: Path) -> None:
    env, attempts = offline_env(tmp_path)
    assert (builtin_templates_dir() / f"welcome{SUFFIX}").is_file()
    proc = subprocess.run(
        [str(WORKBENCH), "run", "welcome", "--json", "--param", "max_tokens=24", "--param", "n=2"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "llama_context" not in proc.stderr  # llama.cpp's own chatter goes to logging
    assert not attempts.exists(), attempts.read_text()
    result = json.loads(proc.stdout)
    assert result["text"].strip()
    assert result["finish_reason"] in ("stop", "length")
    assert result["usage"]["input_tokens"] > 0 and result["usage"]["output_tokens"] > 0
    assert result["timings"]["load_s"] > 0 and result["timings"]["ttft_s"] > 0
    sent = result["request"]
    assert sent["backend"] == "llamacpp" and sent["model"] == "smollm2-135m-instruct"
    assert "<|im_start|>" in sent["raw_prompt"]
    assert sent["sent_params"]["max_tokens"] == 24
    assert sent["ignored_params"] == {"n": 2}

    # The guard itself works: a real attempt to go out is caught and recorded.
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import socket; socket.create_connection(('192.0.2.1', 80), timeout=1)",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert probe.returncode != 0 and "network blocked" in probe.stderr
    assert attempts.exists()


@pytest.mark.slow
def test_run_streams_text_to_stdout_and_notes_to_stderr(tmp_path: Path) -> None:
    template = write_template(tmp_path / f"t{SUFFIX}")
    env, _ = offline_env(tmp_path)
    proc = subprocess.Popen(
        [
            str(WORKBENCH),
            "run",
            str(template),
            "--var",
            "who=Ada",
            "--preset",
            "deterministic",
            "--param",
            "max_tokens=30",
            "--param",
            "n=2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    first = proc.stdout.read(1)  # something arrives before the process is done
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert (first + out).strip()
    notes = err.strip().splitlines()
    assert notes[-1].startswith("finish: ")
    assert "first token" in notes[-1] and "tok/s" in notes[-1]
    # what was not sent, and where: the backend and the model (a model may drop more)
    assert "note: llamacpp · smollm2-135m-instruct ignores n=2" in notes, notes


def test_failed_run_prints_one_line_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = write_template(tmp_path / f"t{SUFFIX}")
    code = main(["run", str(template), "--var", "who=x", "--model", str(tmp_path / "missing.gguf")])
    out, err = capsys.readouterr()
    assert code == 1
    assert err.strip().splitlines() == [
        f"workbench run: model file not found: {tmp_path / 'missing.gguf'}"
    ]
    assert out == ""


def test_scripted_backend_failures_and_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = write_template(tmp_path / f"t{SUFFIX}")
    assert (
        main(
            [
                "backends",
                "add",
                "demo",
                "scripted",
                "--option",
                "script=[{text: 'Hi '}, {text: there}]",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "backends",
                "add",
                "flaky",
                "scripted",
                "--option",
                "script=[{text: par},"
                " {error: 'rate limited, retry in 3 s', error_kind: RateLimitError}]",
            ]
        )
        == 0
    )
    capsys.readouterr()

    assert main(["run", str(template), "--var", "who=x", "--backend", "demo"]) == 0
    out, err = capsys.readouterr()
    assert out == "Hi there\n"

    assert (
        main(
            [
                "run",
                str(template),
                "--var",
                "who=x",
                "--backend",
                "demo",
                "--json",
                "--param",
                "temperature=0.5",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["text"] == "Hi there" and result["finish_reason"] == "stop"
    assert result["request"]["sent_params"] == {"temperature": 0.5}
    assert result["request"]["messages"] == [{"role": "user", "content": "Say hello to x."}]

    assert main(["run", str(template), "--var", "who=x", "--backend", "flaky"]) == 1
    out, err = capsys.readouterr()
    assert err.splitlines() == ["workbench run: rate limited, retry in 3 s"]

    # Every run is kept, the failed one too, with the values it ran with.
    assert main(["history", "list", "--json"]) == 0
    history = json.loads(capsys.readouterr().out)
    runs = history["runs"] if isinstance(history, dict) else history
    assert [r["status"] for r in runs] == ["error", "ok", "ok"]

    assert main(["backends", "remove", "flaky"]) == 0


def test_params_come_from_template_then_preset_then_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = write_template(
        tmp_path / f"t{SUFFIX}", parameters=Params(temperature=0.9, max_tokens=7)
    )
    assert main(["backends", "add", "demo", "scripted"]) == 0
    capsys.readouterr()
    args = ["run", str(template), "--var", "who=x", "--backend", "demo", "--json"]
    assert (
        main(
            [
                *args,
                "--preset",
                "Code",
                "--param",
                "seed=3",
                "--param",
                "stop=\\n",
                "--param",
                "stop=END",
            ]
        )
        == 0
    )
    sent = json.loads(capsys.readouterr().out)["request"]
    assert sent["sent_params"] == {
        "temperature": 0.2,
        "max_tokens": 7,
        "seed": 3,
        "stop": ["\n", "END"],
    }
    assert main([*args, "--preset", "nope"]) == 1
    assert "no preset named 'nope'" in capsys.readouterr().err


def test_param_parsing_errors_are_clear() -> None:
    assert parse_params(["temperature=0.5", "greedy=true"]) == Params(temperature=0.5, greedy=True)
    with pytest.raises(ParameterError, match="unknown parameter 'temp'"):
        parse_params(["temp=1"])
    with pytest.raises(ParameterError, match="the template's own key") as err:
        parse_params(["response_format=text"])  # says where it is set instead
    assert "a variant 'response_format:'" in err.value.hint
    with pytest.raises(ParameterError, match="--param temperature"):
        parse_params(["temperature=9"])
    with pytest.raises(KnownError, match="--param expects NAME=VALUE"):
        parse_params(["temperature"])


@pytest.mark.slow
def test_backends_lists_status_and_models(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backends", "--json"]) == 0
    entries = {e["name"]: e for e in json.loads(capsys.readouterr().out)}
    local = entries["llamacpp"]
    assert local["status"] == "ok"
    assert local["models"][0]["id"] == "smollm2-135m-instruct"
    assert "scripted" not in entries
    for name in ("openai_compat", "anthropic", "bedrock"):
        assert name in entries and entries[name]["status"]  # ok / not answering / no API key / …
    assert main(["backends", "--all", "--no-models"]) == 0
    text = capsys.readouterr().out
    assert "llamacpp — Local (llama.cpp): ok" in text
    assert "scripted — Scripted (tests and demos): configured, not contacted" in text


def test_backends_add_validates_options(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert (
        main(
            [
                "backends",
                "add",
                "llamacpp",
                "llamacpp",
                "--option",
                f"model_dirs={tmp_path}",
                "--option",
                "model_dirs=/x",
            ]
        )
        == 0
    )
    capsys.readouterr()
    from workbench.backends.config import load_configs

    assert load_configs()["llamacpp"].options == {"model_dirs": [str(tmp_path), "/x"]}
    assert main(["backends", "add", "local2", "llamacpp", "--option", "n_threads=zero"]) == 1
    assert "n_threads" in capsys.readouterr().err


def test_a_missing_api_key_is_said_before_any_network_call(tmp_path: Path) -> None:
    """A cold start ran gpt-4o on the default OpenAI-compatible backend (api.openai.com) with no
    key set and was told the host could not be resolved: the key is checked first, and
    nothing goes out."""
    template = write_template(tmp_path / f"t{SUFFIX}")
    env, attempts = offline_env(tmp_path)
    env.pop("OPENAI_API_KEY", None)
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"  # a headless Linux
    proc = subprocess.run(
        [str(WORKBENCH), "run", str(template), "--var", "who=Ada",
         "--backend", "openai_compat", "--model", "gpt-4o"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert proc.returncode == 1
    assert (
        "workbench run: no API key for 'openai' (set one with `workbench key set openai` or "
        "in Tools ▸ Backends ▸ API key, or set the environment variable OPENAI_API_KEY)"
    ) in proc.stderr
    assert "resolve" not in proc.stderr
    assert not attempts.exists(), attempts.read_text()


def test_a_reasoning_models_thinking_goes_to_stderr_and_history_shows_it_apart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = write_template(tmp_path / f"t{SUFFIX}")
    script = "script=[{text: '<think>Greet them'}, {text: ' back.</think>'}, {text: Hello}]"
    assert main(["backends", "add", "thinker", "scripted", "--option", script,
                 "--option", "think_tags=true"]) == 0
    capsys.readouterr()
    assert main(["run", str(template), "--var", "who=x", "--backend", "thinker"]) == 0
    out, err = capsys.readouterr()
    assert out == "Hello\n"  # the answer alone, for pipes
    assert "thinking: Greet them back.\n" in err
    assert main(["history", "list", "--json"]) == 0
    run_id = json.loads(capsys.readouterr().out)[0]["id"]
    assert main(["history", "show", run_id]) == 0
    shown = capsys.readouterr().out
    assert "--- reasoning ---\nGreet them back.\n--- output ---\nHello" in shown
    assert "out 3  thinking 2" in shown


def test_tool_calls_are_said_on_stderr_and_history_shows_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = PromptTemplate(
        name="weather", messages=[Message(role="user", content="Weather in {{ who }}?")],
        tools=[Tool(name="get_weather")],  # no mock: no one here to answer it
    )
    path = tmp_path / f"weather{SUFFIX}"
    path.write_text(dumps(template), encoding="utf-8")
    script = ("script=[{text: Checking.}, "
              "{tool_call: {name: get_weather, arguments: '{\"city\": \"Oslo\"}'}}]")
    assert main(["backends", "add", "caller", "scripted", "--option", script]) == 0
    capsys.readouterr()
    assert main(["run", str(path), "--var", "who=Oslo", "--backend", "caller"]) == 0
    out, err = capsys.readouterr()
    assert out == "Checking.\n"
    assert 'tool call: get_weather({"city": "Oslo"})  [call_0]' in err
    assert main(["history", "list", "--json"]) == 0
    run_id = json.loads(capsys.readouterr().out)[0]["id"]
    assert main(["history", "show", run_id]) == 0
    shown = capsys.readouterr().out
    assert "(tool_calls)" in shown
    assert '--- tool calls ---\nget_weather({"city": "Oslo"})  [call_0]' in shown


def test_a_tool_conversation_runs_to_its_answer_on_python_mocks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = "def mock(args, step):\n    return {'temp_c': len(args['city']) * step}\n"
    template = PromptTemplate(
        name="weather", messages=[Message(role="user", content="Weather in {{ who }}?")],
        tools=[Tool(name="get_weather", mock=PythonMock(python=code))],
    )
    path = tmp_path / f"weather{SUFFIX}"
    path.write_text(dumps(template), encoding="utf-8")
    call = {"tool_call": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}
    script = {"by_tool_results": [[{"text": "Checking."}, call], [call], [{"text": "Warm."}]]}
    option = "by_tool_results=" + json.dumps(script["by_tool_results"])
    assert main(["backends", "add", "caller", "scripted", "--option", option]) == 0
    capsys.readouterr()
    assert main(["run", str(path), "--var", "who=Oslo", "--backend", "caller"]) == 0
    out, err = capsys.readouterr()
    assert out == "Checking.\nWarm.\n"  # each turn's text
    assert 'step 1: get_weather({"city": "Oslo"})  [call_0]\n  -> {"temp_c": 4}' in err
    assert '  -> {"temp_c": 8}' in err  # step 2
    assert main(["history", "list", "--json"]) == 0
    [stored] = json.loads(capsys.readouterr().out)  # one run: the whole conversation
    assert main(["history", "show", stored["id"]]) == 0
    shown = capsys.readouterr().out
    assert '{"temp_c": 4}' in shown and '{"temp_c": 8}' in shown and "Warm." in shown
