"""The GBNF checker: every problem llama.cpp's parser would refuse a grammar for (and crash on),
found before it gets there and placed at its line and column; the template key that carries a
raw grammar, its file positions, and where it is sent."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from workbench.backends.structured import gbnf, schema_grammar
from workbench.core.errors import ParameterError, TemplateFileError
from workbench.core.gbnf import GrammarProblem, NamedToken, check, first_problem
from workbench.core.models import Message, PromptTemplate, ResponseFormat
from workbench.core.params import NO_GRAMMAR, Capabilities, ParamCapability
from workbench.core.template_files import dumps, loads
from workbench.services.runner import build_request

YES_NO = 'root ::= ("yes" | "no")'


def problem(text: str) -> tuple[int, int, str]:
    found = first_problem(text)
    assert found is not None, f"accepted: {text!r}"
    return found.line, found.column, found.message


@pytest.mark.parametrize(
    ("text", "line", "column", "words"),
    [
        ('root ::= foo', 1, 10, "undefined rule 'foo'"),
        ('root ::= vlaue\nvalue ::= "a"', 1, 10, "did you mean 'value'"),
        ('answer ::= "a"', 1, 1, "no rule named 'root'"),
        ('# nothing but a comment\n', 1, 1, "the grammar is empty"),
        ('root ::= x\nx ::= ("a" | "b"\ny ::= "c"', 2, 7, "'(' is never closed"),
        ('root ::= "a" )', 1, 14, "')' without a matching '('"),
        ('root ::= "a"\n  b ::= "c" ]', 2, 13, "']' without a matching '['"),
        ('root ::= "abc\n', 1, 10, "unterminated string"),
        ('root ::= [a-z', 1, 10, "unterminated character class"),
        ('root ::= "a\\qb"', 1, 12, "unknown escape '\\q'"),
        ('root ::= "\\x4"', 1, 11, "'\\x' needs 2 hex digits"),
        ('root ::= * "a"', 1, 10, "'*' has nothing before it to repeat"),
        ('root ::= "a"{2', 1, 13, "'{' is never closed"),
        ('root ::= "a"{3,1}', 1, 13, "the maximum is below the minimum"),
        ('root ::= "a"{2001}', 1, 13, "more than 2000 repetitions"),
        ("root ::= 'a'", 1, 10, "double quotes"),
        ('root ::= a\n     | b\na ::= "a"\nb ::= "b"', 2, 6, "a line cannot start with '|'"),
        ('root ::= "a" |\nb ::= "b"', 2, 3, "each rule starts on a line of its own"),
        ('root = "a"', 1, 6, "expected '::=' after the rule name 'root'"),
        ('root ::= "a"\nroot ::= "b"', 2, 1, "defined twice (the first is at line 1)"),
        ('root ::= [z-a]', 1, 11, "empty range 'z-a'"),
        ('root ::= !"a"', 1, 10, "'!' must be followed by a token"),
        ('root ::= <think', 1, 10, "unterminated token"),
        ('root ::= expr\nexpr ::= expr "+" term | term\nterm ::= [0-9]+', 2, 1,
         "left recursion (expr → expr)"),
        ('root ::= list\nlist ::= item* list\nitem ::= "a"', 2, 1, "left recursion"),
        ('root ::= a\na ::= b "x"\nb ::= c? a\nc ::= "c"', 2, 1, "left recursion (a → b → a)"),
    ],
)
def test_each_problem_is_reported_at_its_line_and_column(
    text: str, line: int, column: int, words: str
) -> None:
    got = problem(text)
    assert got[:2] == (line, column), got
    assert words in got[2]


@pytest.mark.parametrize(
    "text",
    [
        YES_NO,
        'root ::= expr\nexpr ::= term ("+" term)*\nterm ::= [0-9]+ | "(" expr ")"',
        'root ::= ( "a"\n  | "b" )  # alternatives in ( ) may span lines\n',
        'root   ::= [^"\\\\\\]] "\\u00e9" "\\U0001F600" .\r\n',
        'root ::= "x"{0,3} "y"{2} "z"{1,}',
        'root ::= ("a"?)* tail\ntail ::= "b"',  # a nullable group, not left recursion to llama.cpp
        'root ::= <[2]> !<[3]> <think>',
        'root::="a"',
    ],
)
def test_grammars_llama_cpp_accepts_pass(text: str) -> None:
    assert check(text).ok, check(text).problems


def test_every_grammar_llama_cpp_python_ships_and_makes_passes() -> None:
    import llama_cpp.llama_grammar as shipped

    grammars = [getattr(shipped, n) for n in dir(shipped) if n.endswith("_GBNF")]
    assert len(grammars) >= 5
    for text in grammars:
        assert check(text).ok, check(text).problems
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 20},
            "kind": {"enum": ["a", "b"]},
            "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
            "zip": {"type": "string", "pattern": "^[0-9]{4,5}$"},
            "score": {"type": "number"},
        },
        "required": ["name", "kind"],
    }
    assert check(schema_grammar(schema)).ok


def test_all_undefined_rules_are_listed_in_order_and_named_tokens_kept() -> None:
    found = check('root ::= a b <think>\n# c\nz ::= "z"\n')
    assert [str(p) for p in found.problems] == [
        "1:10: undefined rule 'a'",
        "1:12: undefined rule 'b'",
    ]
    assert found.problems[0] == GrammarProblem(1, 10, "undefined rule 'a'")
    fine = check('root ::= <think> "x" <[7]>\nz ::= "z"')
    assert fine.tokens == (NamedToken(1, 10, "<think>"),)
    assert fine.rules == ("root", "z")


def template(**fields: object) -> PromptTemplate:
    return PromptTemplate(name="t", messages=[Message(role="user", content="hi")], **fields)


def test_the_grammar_key_is_sent_only_with_the_grammar_format() -> None:
    with pytest.raises(ValidationError, match="needs a grammar"):
        template(response_format="grammar")
    with pytest.raises(ValidationError, match=r"grammar 1:10: undefined rule 'foo'"):
        template(grammar="root ::= foo", response_format="grammar")
    with pytest.raises(ValidationError, match="only one, has a grammar"):
        ResponseFormat(type="json_object", grammar=YES_NO)
    with pytest.raises(ValidationError, match="the grammar is empty"):
        ResponseFormat(type="grammar", grammar="")
    sent = build_request(template(grammar=YES_NO, response_format="grammar"), {}, backend="b")
    assert sent.response_format == ResponseFormat(type="grammar", grammar=YES_NO)
    assert gbnf(sent.response_format) == YES_NO
    # With a schema too, response_format decides: json_schema sends the schema's grammar.
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    both = template(grammar=YES_NO, output_schema=schema, response_format="json_schema")
    fmt = build_request(both, {}, backend="b").response_format
    assert fmt is not None and fmt.grammar is None and gbnf(fmt) == schema_grammar(schema)
    assert build_request(template(grammar=YES_NO), {}, backend="b").response_format is None
    kept = template(grammar='root ::= answer\nanswer ::= "yes" | "no"\n', response_format="grammar")
    assert "response_format: grammar" in dumps(kept) and "grammar: |" in dumps(kept)
    assert loads(dumps(kept)) == kept


def test_only_llama_cpp_takes_a_grammar_others_say_why() -> None:
    from workbench.backends.llamacpp import LlamaCppBackend
    from workbench.backends.openai_compat import OpenAICompatBackend

    assert LlamaCppBackend().capabilities().format_support("grammar").supported
    remote = OpenAICompatBackend().capabilities()
    assert remote.format_support("grammar") == ParamCapability(supported=False, note=NO_GRAMMAR)
    fmt = ResponseFormat(type="grammar", grammar=YES_NO)
    assert remote.split_format(fmt) == (None, {"response_format": "grammar"})
    assert Capabilities().format_support("json_object").note == "this backend cannot enforce it"


FILE = """\
format_version: 1
name: yes-no
messages:
  - role: user
    content: Is the sky blue?
response_format: grammar
grammar: |
  root ::= answer
  answer ::= ("yes" | "no"
"""


@pytest.mark.parametrize(
    ("grammar_yaml", "where"),
    [
        ('grammar: |\n  root ::= answer\n  answer ::= ("yes" | "no"\n', "x.prompt.yaml:9:14: "),
        ("grammar: |2\n\n    root ::= \"a\" foo\n", "x.prompt.yaml:9:18: "),
        ("grammar: 'root ::= (\"a\"'\n", "x.prompt.yaml:7:20: "),
        ('grammar: root ::= "a" | b\n', "x.prompt.yaml:7:25: "),
        ('grammar: "root ::= \\"a\\"\\nbad"\n', "x.prompt.yaml:7: grammar 2:4: "),
    ],
)
def test_a_grammar_problem_in_a_file_is_at_its_file_line_and_column(
    grammar_yaml: str, where: str
) -> None:
    text = FILE.split("grammar: |")[0] + grammar_yaml
    with pytest.raises(TemplateFileError) as caught:
        loads(text, "x.prompt.yaml")
    assert str(caught.value).startswith(where), str(caught.value)


def test_a_schema_the_converter_makes_an_invalid_grammar_of_is_refused() -> None:
    with pytest.raises(ParameterError, match="cannot be compiled"):
        schema_grammar({"$ref": "#/definitions/missing"})


def test_a_grammar_format_copied_without_validation_is_checked_before_llama_cpp() -> None:
    fmt = ResponseFormat(type="grammar", grammar=YES_NO)
    unchecked = fmt.model_copy(update={"grammar": "root ::= foo"})  # model_copy validates nothing
    with pytest.raises(ParameterError, match="cannot be used: 1:10: undefined rule 'foo'"):
        gbnf(unchecked)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('root::=|()[]{}"\\*+?.<>!^-az09 \n#,')), max_size=80)
       | st.text(max_size=60))
def test_any_text_gives_a_verdict_never_an_exception(text: str) -> None:
    found = check(text)
    for p in found.problems:
        assert 1 <= p.line <= text.count("\n") + 1 and p.column >= 1 and p.message


def test_groups_nested_past_pythons_recursion_are_a_problem_not_a_crash() -> None:
    deep = "root ::= " + "(" * 5000 + '"a"' + ")" * 5000
    assert problem(deep) == (1, 10, "groups ( ) nested too deeply")
