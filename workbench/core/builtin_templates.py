"""The built-in templates, defined through the technique scaffolds.

The files under ``templates/`` are generated from these definitions with
``python -m workbench.core.builtin_templates`` and written with ``template_files.dumps``, so every
file is canonical; a test regenerates them and compares, so files and code cannot drift apart.
Every variable has a default, so each template renders (and runs) with no values given.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from workbench.core.answers import NUMBER_ANSWER_PATTERN
from workbench.core.models import Components, Example, Params, PromptTemplate, Variable
from workbench.core.paths import builtin_templates_dir
from workbench.core.techniques import build
from workbench.core.template_files import SUFFIX, dumps


def welcome() -> PromptTemplate:
    # Tried on SmolLM2-135M-Instruct: short list tasks suit a tiny model; longer ones ramble.
    return build(
        "zero-shot",
        Components(
            instruction="Tell me three fun facts about {{ topic }}, one short sentence each."
        ),
        name="welcome",
        description="Your first prompt. Change the topic and press Run; then try a higher "
        "temperature and run it again to see how the answers change.",
        tags=["getting-started", "zero-shot"],
        variables=[
            Variable(name="topic", description="What the facts are about: try your own.",
                     default="the ocean"),
        ],
        parameters=Params(temperature=0.7, top_p=0.9, repetition_penalty=1.1, max_tokens=256),
    )


def zero_shot_summarize() -> PromptTemplate:
    return build(
        "zero-shot",
        Components(
            instruction="Summarize the text below in {{ sentences }} sentences for a busy reader. "
            "Keep names, numbers and dates exactly as written.",
            input_data="Text:\n{{ text }}",
            output_indicator="Summary:",
        ),
        name="zero-shot-summarize",
        description="Zero-shot: the task alone, no examples. A clear instruction, the input and "
        "an output indicator that starts the answer.",
        tags=["zero-shot", "summarization"],
        variables=[
            Variable(
                name="text",
                description="The text to summarize.",
                multiline=True,
                default="On 3 March the city council voted 7 to 2 to extend the number 12 tram "
                "line by 4.5 km to the new hospital in Northfield. Construction starts in "
                "September and should take two years; the budget is 84 million euros, 60% of it "
                "from a regional grant. Shops on Mill Street asked for compensation during the "
                "works, and the council promised a decision by June.",
            ),
            Variable(name="sentences", description="How many sentences the summary may have.",
                     default="2"),
        ],
        parameters=Params(temperature=0.3, max_tokens=150),
    )


def one_shot_classify() -> PromptTemplate:
    return build(
        "one-shot",
        Components(
            instruction="Route the support ticket to one team: {{ teams }}. "
            "Reply with the team name only.",
            input_data="{{ ticket }}",
        ),
        name="one-shot-classify",
        description="One-shot: a single input→output example shows the model the exact answer "
        "format before it sees the real input.",
        tags=["one-shot", "classification"],
        variables=[
            Variable(name="ticket", description="The support ticket to route.", multiline=True,
                     default="The app crashes every time I open the settings page."),
            Variable(name="teams", description="The teams to choose from, comma-separated.",
                     default="billing, technical, account"),
        ],
        examples=[
            Example(input="I was charged twice for my subscription this month.", output="billing"),
        ],
        parameters=Params(greedy=True, max_tokens=10),
        input_label="Ticket",
        output_label="Team",
    )


def few_shot_sentiment() -> PromptTemplate:
    reviews = [
        ("Arrived quickly and works perfectly. I would buy it again.", "positive"),
        ("Stopped charging after a week and support never answered.", "negative"),
        ("It does what the box says. Nothing more, nothing less.", "neutral"),
        ("The sound is rich and the battery lasts for days.", "positive"),
        ("Cheap plastic, and one button fell off on the first day.", "negative"),
        ("Delivered on the expected date in standard packaging.", "neutral"),
    ]
    return build(
        "few-shot",
        Components(
            instruction="Classify the sentiment of the product review as positive, negative "
            "or neutral.",
            input_data="{{ review }}",
        ),
        name="few-shot-sentiment",
        description="Few-shot: examples are data. 4 of the 6 are used, in an order shuffled with "
        "seed 42; change k, the seed or the order and watch the answer.",
        tags=["few-shot", "classification", "sentiment"],
        variables=[
            Variable(name="review", description="The review to classify.", multiline=True,
                     default="The battery lasts two days, but the screen scratches easily."),
        ],
        examples=[Example(input=text, output=label) for text, label in reviews],
        parameters=Params(greedy=True, max_tokens=10),
        k=4,
        order="shuffle",
        seed=42,
        input_label="Review",
        output_label="Sentiment",
    )


_MATH_EXAMPLES = [
    Example(
        input="Tom has 3 boxes of 12 pencils. He gives away 10 pencils. "
        "How many pencils does he have left?",
        rationale="3 boxes of 12 pencils is 3 × 12 = 36 pencils. After giving away 10, he has "
        "36 − 10 = 26 pencils.",
        output="26",
    ),
    Example(
        input="A train travels at 60 km per hour for 2.5 hours. How far does it go, in km?",
        rationale="Distance is speed times time: 60 × 2.5 = 150 km.",
        output="150",
    ),
    Example(
        input="Anna buys 4 notebooks at $3 each and pays with a $20 bill. "
        "How much change does she get, in dollars?",
        rationale="The notebooks cost 4 × 3 = 12 dollars. Her change is 20 − 12 = 8 dollars.",
        output="8",
    ),
]


def chain_of_thought_math() -> PromptTemplate:
    return build(
        "chain-of-thought",
        Components(instruction="Solve the math word problem.", input_data="{{ question }}"),
        name="chain-of-thought-math",
        description="Zero-shot chain-of-thought: \"Let's think step by step\" makes the model "
        "reason before answering; the number after \"Answer:\" is extracted.",
        tags=["chain-of-thought", "reasoning", "math"],
        variables=[
            Variable(name="question", description="A word problem with a numeric answer.",
                     multiline=True,
                     default="A baker makes 24 muffins. She sells 3 boxes of 6 muffins each. "
                     "How many muffins are left?"),
        ],
        parameters=Params(greedy=True, max_tokens=300),
        answer_pattern=NUMBER_ANSWER_PATTERN,
    )


def few_shot_chain_of_thought() -> PromptTemplate:
    return build(
        "few-shot-chain-of-thought",
        Components(instruction="Solve the math word problem.", input_data="{{ question }}"),
        name="few-shot-chain-of-thought",
        description="Few-shot chain-of-thought: worked examples show the reasoning that leads "
        "to each answer, so the model reasons the same way before it answers.",
        tags=["chain-of-thought", "few-shot", "reasoning", "math"],
        variables=[
            Variable(name="question", description="A word problem with a numeric answer.",
                     multiline=True,
                     default="A farmer has 5 rows of 8 apple trees. A storm knocks down 7 trees. "
                     "How many trees are still standing?"),
        ],
        examples=_MATH_EXAMPLES,
        parameters=Params(greedy=True, max_tokens=200),
        answer_pattern=NUMBER_ANSWER_PATTERN,
    )


def self_consistency_math() -> PromptTemplate:
    return build(
        "self-consistency",
        Components(instruction="Solve the math word problem.", input_data="{{ question }}"),
        name="self-consistency-math",
        description="Self-consistency: 5 chain-of-thought answers sampled at temperature 0.7; "
        "the number most of them end with is the answer.",
        tags=["self-consistency", "chain-of-thought", "reasoning", "math"],
        variables=[
            Variable(name="question", description="A word problem with a numeric answer.",
                     multiline=True,
                     default="Lena reads 12 pages a day. Her book has 150 pages and she has "
                     "already read 30. How many more days does she need to finish it?"),
        ],
        parameters=Params(top_p=0.95, max_tokens=300),
        answer_pattern=NUMBER_ANSWER_PATTERN,
    )


def least_to_most() -> PromptTemplate:
    return build(
        "least-to-most",
        Components(instruction="Solve the word problem.", input_data="{{ question }}"),
        name="least-to-most",
        description="Least-to-most: break the problem into simpler sub-problems and solve them "
        "in order, each answer feeding the next; the worked example shows how.",
        tags=["least-to-most", "reasoning", "math"],
        variables=[
            Variable(name="question", description="A multi-step word problem.", multiline=True,
                     default="It takes Amy 4 minutes to climb to the top of a slide and 1 minute "
                     "to slide down. The slide closes in 15 minutes. How many times can she "
                     "slide before it closes?"),
        ],
        examples=[
            Example(
                input="Elsa has 5 apples. Anna has 2 more apples than Elsa. "
                "How many apples do they have together?",
                rationale="To answer this, we first need to know how many apples Anna has. "
                "1. How many apples does Anna have? Anna has 2 more than Elsa: 5 + 2 = 7. "
                "2. How many apples do they have together? 5 + 7 = 12.",
                output="12",
            ),
        ],
        parameters=Params(greedy=True, max_tokens=300),
        answer_pattern=NUMBER_ANSWER_PATTERN,
    )


def tree_of_thoughts_puzzle() -> PromptTemplate:
    return build(
        "tree-of-thoughts",
        Components(instruction="Solve the puzzle.", input_data="{{ puzzle }}"),
        name="tree-of-thoughts-puzzle",
        description="Tree-of-thoughts in one prompt: several imagined experts explore different "
        "paths step by step and drop the ones that fail; best with strong models.",
        tags=["tree-of-thoughts", "reasoning", "puzzle"],
        variables=[
            Variable(name="puzzle", description="A puzzle with several possible approaches.",
                     multiline=True,
                     default="Use each of the numbers 4, 9, 10 and 13 exactly once, with +, -, "
                     "* and /, to make 24. Give the expression."),
        ],
        parameters=Params(temperature=0.4, max_tokens=600),
    )


_REVIEW_CODE = '''def average(values=[]):
    total = 0
    for v in values:
        total += v
    try:
        return total / len(values)
    except:
        return 0'''


def role_expert_reviewer() -> PromptTemplate:
    return build(
        "role",
        Components(
            instruction="Review the code below. List at most {{ max_issues }} issues, most "
            "important first: bugs, then security, then readability. If the code is fine, "
            "say so.",
            input_data="```\n{{ code }}\n```",
        ),
        name="role-expert-reviewer",
        description="Role prompting: the system message gives the model a persona (a senior "
        "engineer) that sets its expertise, tone and format.",
        tags=["role", "system-prompt", "code"],
        variables=[
            Variable(name="language", description="The programming language of the code.",
                     default="Python"),
            Variable(name="code", description="The code to review.", multiline=True,
                     default=_REVIEW_CODE),
            Variable(name="max_issues", description="The most issues to list.", default="3"),
        ],
        parameters=Params(temperature=0.2, max_tokens=400),
        system="You are a senior {{ language }} engineer reviewing a colleague's code. You are "
        "direct, specific and kind: you point at the exact line, say why it matters and "
        "suggest a fix.",
    )


_CONTACT_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "title": {"type": ["string", "null"]},
        "company": {"type": ["string", "null"]},
        "email": {"type": ["string", "null"]},
        "phone": {"type": ["string", "null"]},
    },
    "required": ["name", "title", "company", "email", "phone"],
    "additionalProperties": False,
}


def structured_json_extraction() -> PromptTemplate:
    return build(
        "structured-json",
        Components(
            instruction="Extract the contact details from the email signature below.",
            input_data="Signature:\n{{ signature }}",
            output_indicator="Use null for anything the signature does not say.",
        ),
        name="structured-json-extraction",
        description="Structured output: the schema is part of the prompt and every answer is "
        "parsed and checked against it, so a program can use the result.",
        tags=["structured-output", "json", "extraction"],
        variables=[
            Variable(name="signature", description="An email signature.", multiline=True,
                     default="Best regards,\nMaría Gómez\nHead of Partnerships, Nordwind "
                     "Logistics\nmaria.gomez@nordwind.example | +49 30 1234 5678"),
        ],
        parameters=Params(max_tokens=200),
        output_schema=_CONTACT_SCHEMA,
    )


def few_shot_completion_capitals() -> PromptTemplate:
    capitals = [("France", "Paris"), ("Japan", "Tokyo"), ("Kenya", "Nairobi"),
                ("Canada", "Ottawa")]
    return build(
        "few-shot",
        Components(input_data="What is the capital of {{ country }}?"),
        name="few-shot-completion-capitals",
        description="Completion mode for base models: no chat template, just text for the model "
        "to continue. Examples set the pattern; the stop sequence ends the answer at the line end.",
        tags=["few-shot", "completion", "base-model"],
        variables=[
            Variable(name="country", description="The country to ask about.", default="Italy"),
        ],
        examples=[Example(input=f"What is the capital of {country}?", output=city)
                  for country, city in capitals],
        parameters=Params(greedy=True, max_tokens=10, stop=["\n"]),
        mode="completion",
        input_label="Q",
        output_label="A",
    )


DEFINITIONS: tuple[Callable[[], PromptTemplate], ...] = (
    welcome,
    zero_shot_summarize,
    one_shot_classify,
    few_shot_sentiment,
    chain_of_thought_math,
    few_shot_chain_of_thought,
    self_consistency_math,
    least_to_most,
    tree_of_thoughts_puzzle,
    role_expert_reviewer,
    structured_json_extraction,
    few_shot_completion_capitals,
)


def builtin_templates() -> list[PromptTemplate]:
    """Every built-in template, freshly built from its definition."""
    return [define() for define in DEFINITIONS]


def write_builtin_templates(folder: Path | None = None) -> list[Path]:
    """(Re)write the built-in template files; returns the paths written."""
    folder = folder or builtin_templates_dir()
    written = []
    for template in builtin_templates():
        path = folder / f"{template.name}{SUFFIX}"
        path.write_text(dumps(template), encoding="utf-8", newline="")
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write_builtin_templates(Path(sys.argv[1]) if len(sys.argv) > 1 else None):
        print(written_path)
