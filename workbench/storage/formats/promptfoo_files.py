"""The files a promptfoo config points at with ``file://``: prompt files and test files.

Paths are relative to the config's folder, as promptfoo resolves them, and must stay inside it.
Prompt files follow promptfoo's processors: ``.txt`` holds several prompts split on lines that
are exactly ``---``; ``.json``/``.yaml`` hold one (chat) prompt; ``.jsonl`` one chat prompt per
line; ``.md``, ``.j2`` and other text one prompt. Test files: ``.csv`` (one test per row;
``__expected*`` columns are assertions written as promptfoo strings like ``icontains:bonjour``),
``.yaml``/``.json`` (a list of tests) and ``.jsonl``. Code (``.js``, ``.py``) is never run:
such references are reported.
"""

from __future__ import annotations

import glob
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.core.experiments import AssertionSpec
from workbench.core.records import csv_records
from workbench.storage.formats.results import Problems
from workbench.storage.formats.yamlsrc import Doc, load_json, load_yaml

CODE_SUFFIXES = (
    ".js",
    ".cjs",
    ".mjs",
    ".ts",
    ".cts",
    ".mts",
    ".py",
    ".rb",
    ".sh",
    ".bat",
    ".exe",
    ".ps1",
)
PROMPT_DELIMITER = "---"

#: promptfoo's assertion types (src/types BaseAssertionTypesSchema), for reading CSV shorthand.
BASE_TYPES = (
    "answer-relevance",
    "bleu",
    "classifier",
    "contains",
    "contains-all",
    "contains-any",
    "contains-html",
    "contains-json",
    "contains-sql",
    "contains-xml",
    "context-faithfulness",
    "context-recall",
    "context-relevance",
    "conversation-relevance",
    "cost",
    "equals",
    "factuality",
    "finish-reason",
    "g-eval",
    "gleu",
    "guardrails",
    "icontains",
    "icontains-all",
    "icontains-any",
    "is-html",
    "is-json",
    "is-refusal",
    "is-sql",
    "is-valid-function-call",
    "is-valid-openai-function-call",
    "is-valid-openai-tools-call",
    "is-xml",
    "javascript",
    "latency",
    "levenshtein",
    "llm-rubric",
    "meteor",
    "model-graded-closedqa",
    "model-graded-factuality",
    "moderation",
    "perplexity",
    "perplexity-score",
    "pi",
    "python",
    "regex",
    "rouge-n",
    "ruby",
    "similar",
    "starts-with",
    "webhook",
)
_THRESHOLD_TYPES = {
    "answer-relevance",
    "classifier",
    "context-faithfulness",
    "context-recall",
    "context-relevance",
    "cost",
    "latency",
    "levenshtein",
    "perplexity-score",
    "perplexity",
    "rouge-n",
    "similar",
    "starts-with",
}
_LIST_TYPES = {"contains-all", "contains-any", "icontains-all", "icontains-any"}


@dataclass
class RawPrompt:
    """One prompt found in a config or a file, before conversion."""

    raw: str
    source: str
    line: int | None
    label: str | None = None
    from_file: bool = False


def is_file_ref(value: str) -> bool:
    """promptfoo's rule for a prompt string that names a file rather than being the prompt."""
    if "\n" in value:
        return False
    if value.startswith("file://"):
        return True
    suffixes = (".txt", ".json", ".jsonl", ".yaml", ".yml", ".md", ".j2", ".csv", *CODE_SUFFIXES)
    path = value.split(":")[0] if ":" in value and not value.startswith("file://") else value
    return path.endswith(suffixes) and " " not in path


def _outside(path: Path, root: Path) -> bool:
    """True when ``path`` (symlinks followed) is not inside ``root``."""
    return not path.resolve().is_relative_to(root)


def resolve(ref: str, base_dir: Path | None, problems: Problems, line: int | None) -> list[Path]:
    """The files a reference names (globs expanded), reporting what cannot be read.

    Only files inside the config's folder are read: ``../``, absolute paths elsewhere, symlinks
    and glob matches leading out of it are refused on their line (a config from anywhere must not
    make the workbench read ``/etc/passwd`` or ``~/.ssh`` and send it to a model)."""
    spec = ref[len("file://") :] if ref.startswith("file://") else ref
    if base_dir is None:
        problems.error(
            line,
            f"'{ref}' refers to a file, but the config's folder is unknown; "
            "import the config file itself",
        )
        return []
    root = base_dir.resolve()
    refused = (
        f"'{ref}' is outside the config's folder ({root}); refused: only files inside it are read"
    )
    pattern = Path(spec) if Path(spec).is_absolute() else base_dir / spec
    if any(c in spec for c in "*?["):
        parts = pattern.parts
        fixed = next((i for i, part in enumerate(parts) if any(c in part for c in "*?[")), 0)
        if _outside(Path(*parts[:fixed]), root):
            problems.error(line, refused)  # never walk a folder outside (file:///**)
            return []
        matches = sorted(Path(p) for p in glob.glob(str(pattern), recursive=True))
        found = [p for p in matches if not _outside(p, root)]
        if len(found) < len(matches):
            problems.error(
                line,
                f"'{ref}': {len(matches) - len(found)} match(es) outside the config's folder "
                f"({root}) refused",
            )
        elif not found:
            problems.error(line, f"'{ref}' matches no file")
        return found
    if _outside(pattern, root):
        problems.error(line, refused)
        return []
    if not pattern.is_file():
        problems.error(line, f"'{ref}': no such file ({pattern})")
        return []
    return [pattern]


def read_text(path: Path, problems: Problems, line: int | None) -> str | None:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        problems.error(line, f"{path.name}: not UTF-8 text ({err.reason})")
    except OSError as err:
        problems.error(line, f"{path.name}: cannot read ({err.strerror})")
    return None


def prompts_from_file(
    path: Path, label: str | None, problems: Problems, line: int | None
) -> list[RawPrompt]:
    name = path.name
    if path.suffix in CODE_SUFFIXES or ":" in name:
        problems.error(line, f"{name}: prompt functions in code are not imported (nothing is run)")
        return []
    text = read_text(path, problems, line)
    if text is None:
        return []
    suffix = path.suffix.lower()
    if suffix == ".txt":
        return _split_txt(text, name, label)
    if suffix == ".jsonl":
        out = []
        for n, row in enumerate(text.split("\n"), 1):
            if row.strip():
                row = row.removesuffix("\r")
                out.append(RawPrompt(row, name, n, label and f"{label}: {n}", True))
        return out
    if suffix in (".yaml", ".yml"):
        file_problems = Problems(name)
        doc = load_yaml(text, file_problems)
        problems.items.extend(file_problems.items)
        if doc is None:
            return []
        return [RawPrompt(json.dumps(doc.data, ensure_ascii=False), name, 1, label, True)]
    if suffix == ".csv":
        return _prompts_csv(text, name, label, problems)
    return [RawPrompt(text, name, 1, label, True)]


def _split_txt(text: str, name: str, label: str | None) -> list[RawPrompt]:
    prompts: list[RawPrompt] = []
    buffer: list[str] = []
    start = 1
    for n, row in enumerate([*text.replace("\r\n", "\n").split("\n"), PROMPT_DELIMITER], 1):
        if row.strip() == PROMPT_DELIMITER:
            raw = "\n".join(buffer).strip()
            if raw:
                skipped = next(i for i, r in enumerate(buffer) if r.strip())
                prompts.append(RawPrompt(raw, name, start + skipped, label, True))
            buffer, start = [], n + 1
        else:
            buffer.append(row)
    return prompts


def _prompts_csv(text: str, name: str, label: str | None, problems: Problems) -> list[RawPrompt]:
    out = []
    for line, row in csv_rows(text, Problems(name), problems):
        raw = row.get("prompt") or next(iter(row.values()), "")
        if raw:
            out.append(RawPrompt(raw, name, line, row.get("label") or label, True))
    return out


def csv_rows(
    text: str, file_problems: Problems, problems: Problems
) -> list[tuple[int, dict[str, str]]]:
    """Rows of a CSV file as header→value dicts with the line each record starts on."""
    header: list[str] | None = None
    rows: list[tuple[int, dict[str, str]]] = []
    for start, row, error in csv_records(text):
        if error is not None:
            file_problems.error(start, f"{error}; record skipped")
            continue
        if header is None:
            header = [h.strip() for h in row]
            continue
        if len(row) != len(header):
            file_problems.error(
                start, f"row has {len(row)} fields, the header has {len(header)}; row skipped"
            )
            continue
        rows.append((start, dict(zip(header, row, strict=True))))
    problems.items.extend(file_problems.items)
    return rows


def assertion_from_string(expected: str) -> AssertionSpec:
    """promptfoo's CSV shorthand: ``icontains:x``, ``not-regex:y``, ``similar(0.9):z``."""

    for prefix, kind in (
        ("javascript:", "javascript"),
        ("fn:", "javascript"),
        ("eval:", "javascript"),
        ("grade:", "llm-rubric"),
        ("llm-rubric:", "llm-rubric"),
        ("python:", "python"),
    ):
        if expected.startswith(prefix):
            body = expected[len(prefix) :]
            return AssertionSpec(type=kind, value=body if kind == "llm-rubric" else body.strip())
    if expected.startswith("file://"):  # read by script_files.with_scripts, inside the folder
        kind = "python" if ".py" in expected else "javascript"
        return AssertionSpec(type=kind, value=expected.strip())
    negate = expected.startswith("not-")
    rest = expected[4:] if negate else expected
    for kind in sorted(BASE_TYPES, key=len, reverse=True):
        if not rest.startswith(kind):
            continue
        tail = rest[len(kind) :]
        threshold: float | None = None
        if tail.startswith("("):
            close = tail.find(")")
            try:
                threshold = float(tail[1:close]) if close > 0 else None
            except ValueError:
                continue
            tail = tail[close + 1 :]
        if tail and not tail.startswith(":"):
            continue
        value: Any = tail[1:] if tail else None
        if kind in _LIST_TYPES and isinstance(value, str):
            value = [s.strip() for s in value.split(",")]
        if kind in _THRESHOLD_TYPES:
            threshold = threshold or (0.8 if kind == "similar" else 0.75)
        return AssertionSpec(type=kind, value=value, threshold=threshold, negate=negate)
    return AssertionSpec(type="equals", value=expected)


def load_structured(path: Path, problems: Problems, line: int | None) -> Doc | None:
    """A YAML or JSON file referenced from the config, with its own line marks."""
    text = read_text(path, problems, line)
    if text is None:
        return None
    file_problems = Problems(path.name)
    doc = (
        load_json(text, file_problems)
        if path.suffix.lower() == ".json"
        else load_yaml(text, file_problems)
    )
    problems.items.extend(file_problems.items)
    return doc
