"""Hypothesis strategies for the format round trips: text that breaks naive writers on purpose."""

from __future__ import annotations

from hypothesis import strategies as st

from workbench.core.models import Example, Message, Params, PromptTemplate, Variable

#: Pieces that break CSV, YAML, JSON and Jinja writers that are not careful.
AWKWARD = (
    "{{",
    "}}",
    "{%",
    "%}",
    "{#",
    "\r\n",
    "\r",
    "\n",
    "\n\n",
    '"',
    "'",
    ",",
    ";",
    "#",
    ": ",
    "- ",
    "---",
    "\t",
    " ",
    "é",
    "日本",
    "🙂",
    "\u2028",
    "\x85",
    "\ufeff",
    "\x00",
    "\\",
    "$",
    "|",
    ">",
)

text = st.lists(
    st.one_of(
        st.text(st.characters(exclude_categories=("Cs",)), max_size=12),
        st.sampled_from(AWKWARD),
    ),
    max_size=8,
).map("".join)

#: Text with something visible in it (names and prompt bodies must not be blank).
visible = (
    st.tuples(text, st.characters(exclude_categories=("Cs", "Zs", "Cc", "Zl", "Zp")), text)
    .map("".join)
    .filter(lambda s: s.strip() != "")
)

names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True)

params = st.builds(
    Params,
    temperature=st.none() | st.floats(0, 2, allow_nan=False),
    top_p=st.none() | st.floats(0.01, 1, allow_nan=False),
    top_k=st.none() | st.integers(0, 200),
    max_tokens=st.none() | st.integers(1, 4096),
    stop=st.lists(text.filter(bool), max_size=3),
    seed=st.none() | st.integers(-(2**31), 2**31),
)


@st.composite
def templates(draw: st.DrawFn) -> PromptTemplate:
    mode = draw(st.sampled_from(["chat", "completion"]))
    variable_names = draw(st.lists(names, unique=True, max_size=3))
    fields: dict[str, object] = {
        "name": draw(visible),
        "description": draw(text),
        "tags": draw(st.lists(text, max_size=3)),
        "technique": draw(st.sampled_from(["zero-shot", "few-shot", "chain-of-thought"])),
        "variables": [
            Variable(name=n, default=draw(st.none() | text), description=draw(text))
            for n in variable_names
        ],
        "examples": draw(
            st.lists(st.builds(Example, input=text, output=text, rationale=text), max_size=2)
        ),
        "parameters": draw(params),
        "output_schema": draw(
            st.none() | st.just({"type": "object", "properties": {"answer": {"type": "string"}}})
        ),
    }
    if mode == "chat":
        fields["messages"] = draw(
            st.lists(
                st.builds(
                    Message,
                    role=st.sampled_from(["system", "user", "assistant"]),
                    content=text,
                    literal=st.booleans(),
                ),
                min_size=1,
                max_size=4,
            )
        )
    else:
        fields["mode"] = "completion"
        fields["text"] = draw(text)
    return PromptTemplate.model_validate(fields)
