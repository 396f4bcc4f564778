"""Images through the exports: a format that flattens components keeps a message's images,
and a run with images is a valid OpenAI vision fine-tuning example (content parts)."""

from __future__ import annotations

import json

from tests.images import encode
from workbench.core.images import ImagePart
from workbench.core.models import Message, PromptTemplate, RenderedMessage, RunResult, SentRequest
from workbench.storage.finetune import check_finetune_file, finetune_example
from workbench.storage.formats.flatten import flatten


def test_exports_that_flatten_components_keep_images() -> None:
    image = ImagePart.from_bytes(encode(30, 20))
    template = PromptTemplate(name="t", messages=[
        Message(role="user", content="Describe: {{ parts.instruction }}", images=[image])])
    template = template.model_copy(update={"components": template.components.model_copy(
        update={"instruction": "the picture"})})
    flat = flatten(template, "test").template
    assert flat.messages[0].content == "Describe: the picture"
    assert flat.messages[0].images == [image]


def test_a_run_with_images_is_a_valid_vision_fine_tuning_example() -> None:
    image = ImagePart.from_bytes(encode(30, 20))
    sent = SentRequest(backend="openai_compat", model="gpt-4o", messages=[
        RenderedMessage(role="user", content="What is this?", images=[image])])
    example = finetune_example(RunResult(request=sent, text="A box.", finish_reason="stop"))
    assert example["messages"][0]["content"][0]["image_url"]["url"] == image.data_url()
    report = check_finetune_file(json.dumps(example) + "\n", min_examples=1)
    assert not report.issues, report.issues
