"""Images through every vision backend, against the local servers speaking each provider's
wire format: the request bodies carry the image in the provider's documented shape (OpenAI
``image_url`` data-URL parts, Anthropic base64 ``image`` blocks, Bedrock Converse ``image``
blocks with the bytes, Ollama's ``images`` list), before the text; and the embedded model
refuses a run with an image before loading anything."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from tests.backends.conftest import stream_all
from tests.backends.fault_server import OPENAI_SCENARIOS, ScriptedServer
from tests.backends.local_servers import OllamaServer
from tests.backends.test_anthropic import make as make_anthropic
from tests.backends.wire_servers import ANTHROPIC_SCENARIOS
from tests.images import encode
from workbench.backends.llamacpp import LlamaCppBackend
from workbench.backends.ollama import OllamaBackend, OllamaOptions
from workbench.backends.openai_compat import OpenAICompatBackend, OpenAICompatOptions
from workbench.core.images import ImagePart
from workbench.core.models import RenderedMessage, RunRequest

RAW = encode(64, 32)
IMAGE = ImagePart.from_bytes(RAW)
WEBP = ImagePart.from_bytes(encode(16, 16, "WEBP", 80), detail="low")
ASK = RenderedMessage(role="user", content="What is in these pictures?", images=[IMAGE, WEBP])
MESSAGES = [RenderedMessage(role="system", content="Be brief."), ASK]


@pytest.fixture(scope="module")
def openai_server() -> Iterator[ScriptedServer]:
    srv = ScriptedServer(OPENAI_SCENARIOS)
    yield srv
    srv.close()


@pytest.fixture(scope="module")
def anthropic_server() -> Iterator[ScriptedServer]:
    srv = ScriptedServer(ANTHROPIC_SCENARIOS)
    yield srv
    srv.close()


def test_openai_sends_image_url_content_parts(openai_server: ScriptedServer) -> None:
    url = openai_server.url("ok")
    backend = OpenAICompatBackend(OpenAICompatOptions(base_url=url, default_model="m"))
    _events, result = stream_all(backend, RunRequest(backend="openai_compat", messages=MESSAGES))
    assert result.error is None
    body = openai_server.requests(url)[-1].body
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert body["messages"][1] == {"role": "user", "content": [
        {"type": "image_url", "image_url": {
            "url": "data:image/png;base64," + base64.b64encode(RAW).decode(), "detail": "auto"}},
        {"type": "image_url", "image_url": {"url": WEBP.data_url(), "detail": "low"}},
        {"type": "text", "text": "What is in these pictures?"},
    ]}
    assert result.request.messages[1].images == [IMAGE, WEBP]  # the run records them


def test_anthropic_sends_base64_image_blocks(anthropic_server: ScriptedServer) -> None:
    url = anthropic_server.url("ok", "")
    backend = make_anthropic(url)
    request = RunRequest(backend="anthropic", model="claude-test-1", messages=MESSAGES)
    _events, result = stream_all(backend, request)
    assert result.error is None
    body = anthropic_server.requests(url)[-1].body
    assert body["system"] == "Be brief."
    assert body["messages"] == [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                     "data": base64.b64encode(RAW).decode()}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/webp",
                                     "data": WEBP.data}},
        {"type": "text", "text": "What is in these pictures?"},
    ]}]


def test_ollama_sends_an_images_list() -> None:
    with OllamaServer() as server:
        backend = OllamaBackend(OllamaOptions(base_url=server.url))
        request = RunRequest(backend="ollama", model="tiny:latest", messages=MESSAGES)
        _events, result = stream_all(backend, request)
        assert result.error is None
        body = server.bodies("/api/chat")[-1]
    assert body["messages"][1] == {"role": "user", "content": "What is in these pictures?",
                                   "images": [IMAGE.data, WEBP.data]}
    assert "images" not in body["messages"][0]


def test_the_embedded_model_refuses_an_image_before_loading() -> None:
    backend = LlamaCppBackend()
    assert not backend.capabilities().vision.supported
    assert backend.capabilities().vision.note == "the embedded model cannot see images"
    request = RunRequest(backend="llamacpp", model="no-such-model.gguf", messages=MESSAGES)
    events, result = stream_all(backend, request)
    assert result.finish_reason == "error"
    assert (result.error or "").startswith(
        "this run has 2 image(s), but the embedded model cannot see images (remove the images"
    )
    assert len(events) == 1  # refused before anything was started or loaded
