"""Realistic objects for storage tests: every field set, unicode, multi-line text."""

from __future__ import annotations

import functools

from tests.images import encode
from workbench.core.experiments import AssertionSpec, ExperimentSpec, TestCase, Variant
from workbench.core.images import ImagePart
from workbench.core.models import (
    Example,
    Message,
    Params,
    PromptTemplate,
    RenderedMessage,
    RunResult,
    SentRequest,
    Timings,
    Usage,
    Variable,
)


def make_template(name: str = "Summarize ticket", **changes: object) -> PromptTemplate:
    template = PromptTemplate(
        name=name,
        description="Summaries for the support queue — ünïcode too",
        tags=["support", "summaries"],
        messages=[
            Message(role="system", content="You are a careful support agent.\nBe brief."),
            Message(role="user", content="Summarize this ticket:\n{{ ticket }}"),
        ],
        variables=[Variable(name="ticket", multiline=True)],
        examples=[Example(input="Printer on fire", output="Hardware: urgent")],
        parameters=Params(temperature=0.2, max_tokens=64, stop=["\n\n"]),
    )
    return template.model_copy(update=changes) if changes else template


def make_request(
    question: str = "What is the capital of France?", **changes: object
) -> SentRequest:
    request = SentRequest(
        backend="llamacpp",
        backend_version="0.3.16",
        model="SmolLM2-135M-Instruct",
        messages=[
            RenderedMessage(role="system", content="Answer in one sentence."),
            RenderedMessage(role="user", content=question),
        ],
        sent_params={"temperature": 0.7, "max_tokens": 64, "stop": ["\n\n"]},
        ignored_params={"best_of": 2},
        seed=42,
        raw_prompt=(
            f"<|im_start|>system\nAnswer in one sentence.<|im_end|>\n<|im_start|>user\n{question}"
        ),
    )
    return request.model_copy(update=changes) if changes else request


def make_result(
    question: str = "What is the capital of France?", answer: str = "Paris.", **changes: object
) -> RunResult:
    result = RunResult(
        request=make_request(question),
        text=answer,
        finish_reason="stop",
        usage=Usage(input_tokens=31, output_tokens=4),
        timings=Timings(load_s=0.18, ttft_s=0.16, total_s=0.42, tokens_per_s=131.5),
        cost=0.000125,
    )
    return result.model_copy(update=changes) if changes else result


def failed_result() -> RunResult:
    return RunResult(
        request=make_request("Will this fail?"),
        finish_reason="error",
        error="HTTP 429: slow down",
        error_kind="RateLimitError",
    )


def completion_result() -> RunResult:
    request = SentRequest(
        backend="llamacpp",
        model="gemma-3-270m",
        prompt="Q: capital of Italy?\nA:",
        sent_params={"stop": [" Paris."]},
    )
    return RunResult(
        request=request,
        text=" Rome.",
        finish_reason="length",
        usage=Usage(input_tokens=9, output_tokens=2),
    )


def make_spec(name: str = "Capitals") -> ExperimentSpec:
    return ExperimentSpec(
        name=name,
        notes="Which prompt gets capitals right?\nsecond line",
        variants=[
            Variant(
                label="terse",
                template=make_template("terse"),
                template_version="v1",
                params=Params(temperature=0.0),
                backend="llamacpp",
                model="smol",
                variables={"tone": "dry"},
            ),
            Variant(
                label="chatty",
                template=make_template("chatty"),
                backend="openai_compat",
                model="gpt-4o-mini",
            ),
        ],
        tests=[
            TestCase(
                description="France",
                vars={"country": "France"},
                expected="Paris",
                assertions=[AssertionSpec(type="icontains", value="paris")],
                metadata={"source": "atlas", "row": 2},
            ),
            TestCase(
                description="Japan",
                vars={"country": "日本"},
                assertions=[
                    AssertionSpec(
                        type="similar",
                        value="Tokyo",
                        threshold=0.8,
                        negate=True,
                        metric="sim",
                        weight=2.0,
                    )
                ],
            ),
        ],
        default_assertions=[AssertionSpec(type="javascript", value="output.length <= 200")],
        repeats=3,
    )


@functools.cache
def picture() -> bytes:
    """A real PNG (64×48) for runs and templates with an image; encoded once, because Qt's
    encoder writes other bytes (the pixel density) once a QApplication exists: a module's
    picture taken at import did not match the one a later test made."""
    return encode(64, 48)


def image_result(raw: bytes = b"", question: str = "What is in the picture?") -> RunResult:
    """A run whose user message carries ``raw`` (default ``picture()``) twice."""
    result = make_result(question, "A blue box.")
    image = ImagePart.from_bytes(raw or picture(), detail="low")
    messages = [
        result.request.messages[0],
        RenderedMessage(role="user", content=question, images=[image, image]),
    ]
    return result.model_copy(
        update={"request": result.request.model_copy(update={"messages": messages})}
    )


def image_spec(raw: bytes = b"") -> ExperimentSpec:
    """``make_spec()`` whose first variant's template shows ``raw`` (default ``picture()``)."""
    spec = make_spec()
    template = make_template("looking").model_copy(
        update={"messages": [Message(role="user", content="Describe it.",
                                     images=[ImagePart.from_bytes(raw or picture())])]}
    )
    variants = [spec.variants[0].model_copy(update={"template": template}), spec.variants[1]]
    return spec.model_copy(update={"variants": variants})
