"""Which calls leave this computer, and to where: local backends, loopback servers, cloud APIs
with their defaults, configured remote servers, Bedrock; an estimate split per destination."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from workbench.backends.config import BackendConfig
from workbench.backends.credentials import is_loopback
from workbench.core.experiments import ExperimentSpec, TestCase, Variant
from workbench.core.models import Message, Params, PromptTemplate
from workbench.services.egress import destination, plan_experiment
from workbench.services.runner import Runner

CONFIGS = {
    "box": BackendConfig(name="box", backend="openai_compat",
                         options={"base_url": "http://127.0.0.1:8080/v1"}),
    "lan": BackendConfig(name="lan", backend="openai_compat",
                         options={"base_url": "http://192.168.1.20:8000/v1"}),
    "aws": BackendConfig(name="aws", backend="bedrock", options={"region": "eu-west-1"}),
}


@pytest.mark.parametrize(
    ("host", "local"),
    [("localhost", True), ("127.0.0.1", True), ("::1", True), ("[::1]", True),
     ("api.localhost", True), ("127.8.9.1", True), ("192.168.1.20", False),
     ("api.openai.com", False), ("localhost.evil.com", False)],
)
def test_loopback_means_this_computer_only(host: str, local: bool) -> None:
    assert is_loopback(host) is local


@pytest.mark.parametrize(
    ("name", "host", "remote", "configured"),
    [("llamacpp", "this computer", False, False),
     ("box", "127.0.0.1:8080", False, True),
     ("lan", "192.168.1.20:8000", True, True),
     ("anthropic", "api.anthropic.com", True, False),
     ("openai_compat", "api.openai.com", True, False),
     ("aws", "AWS Bedrock (eu-west-1)", True, True)],
)
def test_where_each_backend_sends(name: str, host: str, remote: bool, configured: bool) -> None:
    found = destination(name, configs=CONFIGS)
    assert (found.host, found.remote, found.configured) == (host, remote, configured)


@pytest.fixture
def runner() -> Iterator[Runner]:
    runner = Runner(configs=CONFIGS)
    yield runner
    runner.close()


def test_an_experiment_splits_into_what_stays_and_what_leaves(runner: Runner) -> None:
    template = PromptTemplate(name="t", messages=[Message(role="user", content="Say {{ w }}")])

    def variant(backend: str, model: str = "") -> Variant:
        return Variant(template=template, backend=backend, model=model,
                       params=Params(max_tokens=50))

    spec = ExperimentSpec(
        name="mixed",
        variants=[variant("box"), variant("anthropic", "claude-3-5-haiku-latest"),
                  variant("lan", "m")],
        tests=[TestCase(vars={"w": "hi"}), TestCase(vars={"w": "bye"})],
        repeats=2,
    )
    plan = plan_experiment(spec, runner, configs=CONFIGS)
    assert plan.remote and plan.local_calls == 4 and plan.remote_calls == 8
    by_host = {s.destination.host: s for s in plan.shares}
    assert set(by_host) == {"api.anthropic.com", "192.168.1.20:8000"}
    cloud = by_host["api.anthropic.com"]
    assert (cloud.calls, cloud.output_tokens) == (4, 200) and cloud.input_tokens > 0
    lines = plan.lines()
    assert lines[0].startswith("anthropic → api.anthropic.com: 4 calls, ≤ ")
    assert "(not set up in Tools ▸ Backends: its defaults)" in lines[0]
    assert lines[-1] == "4 calls stay on this computer"
    local_only = spec.model_copy(update={"variants": [variant("box"), variant("llamacpp")]})
    assert not plan_experiment(local_only, runner, configs=CONFIGS).remote
