"""The model table: each model's tokenizer encoding, context window and prices, as data.

The built-in table is ``resources/models.yaml``; a ``models.yaml`` in the user's config folder
overrides fields of the same model and adds models. Nothing here guesses: a window or a price is
known only for a name (or alias) the table lists, and a cost is only computed from a listed price.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from workbench.core import paths, safe_yaml
from workbench.core.errors import KnownError

TABLE_FILE = "models.yaml"
TABLE_FORMAT_VERSION = 1


class ModelTableError(KnownError):
    """A models.yaml that cannot be read."""


class Price(BaseModel):
    """List price per million tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    currency: str = Field(default="USD", min_length=1)


#: The price of a model that runs on this computer (``Backend.runs_locally``): its calls cost
#: nothing, so they are priced at zero instead of "unknown".
NO_CHARGE = Price(input=0.0, output=0.0)


class ModelEntry(BaseModel):
    """One model as written in the table (every field optional, so a user file can set one)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    encoding: str | None = None
    context_window: int | None = Field(default=None, ge=1)
    max_output_tokens: int | None = Field(default=None, ge=1)
    price: Price | None = None
    aliases: list[str] = Field(default_factory=list)


class _TableFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format_version: int = TABLE_FORMAT_VERSION
    fallback_encoding: str | None = None
    prices_checked: str | None = None
    models: dict[str, ModelEntry] = Field(default_factory=dict)


MatchKind = Literal["name", "alias", "prefix"]


@dataclass(frozen=True)
class ModelInfo:
    """What the table says about one model name.

    ``matched_by`` is ``"prefix"`` for an unlisted snapshot of a listed family (``gpt-4o-2024-…``):
    then only the encoding is shared and window and price stay unknown.
    """

    name: str
    entry: str
    matched_by: MatchKind
    encoding: str | None
    context_window: int | None
    max_output_tokens: int | None
    price: Price | None


@dataclass(frozen=True)
class ModelTable:
    entries: dict[str, ModelEntry]
    fallback_encoding: str
    prices_checked: str
    sources: tuple[Path, ...]

    @cached_property
    def _aliases(self) -> dict[str, str]:
        return {alias: key for key, entry in self.entries.items() for alias in entry.aliases}

    def lookup(self, model: str) -> ModelInfo | None:
        """The table's entry for ``model``: by name, alias, then family prefix; None if unknown."""
        name = model.strip()
        exact = [name]
        if "/" in name:  # "openai/gpt-4o", as routers spell it
            exact.append(name.rsplit("/", 1)[1])
        for candidate in exact:
            if candidate in self.entries:
                return self._info(model, candidate, "name")
            if candidate in self._aliases:
                return self._info(model, self._aliases[candidate], "alias")
        family = list(exact)
        if name.startswith("ft:"):  # "ft:gpt-4o-mini:org::id": a fine-tune of gpt-4o-mini
            family.append(name[3:].split(":", 1)[0])
        for candidate in family:
            keys = [k for k in self.entries if candidate == k or candidate.startswith(k + "-")]
            if keys:
                return self._info(model, max(keys, key=len), "prefix")
        return None

    def _info(self, model: str, key: str, kind: MatchKind) -> ModelInfo:
        entry = self.entries[key]
        known = kind != "prefix"
        return ModelInfo(
            name=model,
            entry=key,
            matched_by=kind,
            encoding=entry.encoding,
            context_window=entry.context_window if known else None,
            max_output_tokens=entry.max_output_tokens if known else None,
            price=entry.price if known else None,
        )


def _read(path: Path) -> _TableFile:
    try:
        data = safe_yaml.load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ModelTableError(f"{path}: cannot read: {err.strerror}") from None
    except UnicodeDecodeError as err:
        raise ModelTableError(f"{path}: not UTF-8 text ({err.reason})") from None
    except yaml.YAMLError as err:
        line, column, reason = safe_yaml.position(err)
        where = str(path) if line is None else f"{path}:{line}"
        reason += "" if column is None else f" (column {column})"
        raise ModelTableError(f"{where}: not valid YAML: {reason}") from None
    try:
        table = _TableFile.model_validate(data or {})
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise ModelTableError(f"{path}: {field + ': ' if field else ''}{first['msg']}") from None
    if table.format_version > TABLE_FORMAT_VERSION:
        raise ModelTableError(
            f"{path}: format_version {table.format_version} is newer than this app reads "
            f"({TABLE_FORMAT_VERSION})",
            hint="update Prompt Workbench",
        )
    return table


@lru_cache(maxsize=8)
def _load(files: tuple[tuple[Path, int], ...]) -> ModelTable:
    fallback = "o200k_base"
    checked = ""
    merged: dict[str, dict[str, Any]] = {}
    for path, _mtime in files:
        table = _read(path)
        fallback = table.fallback_encoding or fallback
        checked = table.prices_checked or checked
        for name, entry in table.models.items():
            merged[name] = {**merged.get(name, {}), **entry.model_dump(exclude_unset=True)}
    entries = {name: ModelEntry.model_validate(fields) for name, fields in merged.items()}
    return ModelTable(entries, fallback, checked, tuple(path for path, _ in files))


def user_table_path() -> Path:
    """Where a user's own ``models.yaml`` goes (it overrides and extends the built-in one)."""
    return paths.config_dir() / TABLE_FILE


def load_model_table(*files: Path) -> ModelTable:
    """The table from ``files`` (later files override earlier ones), re-read when one changes.

    Without arguments: the built-in table, then the user's if it exists.
    """
    if not files:
        user = user_table_path()
        files = (paths.resources_dir() / TABLE_FILE, *((user,) if user.is_file() else ()))
    stamped = []
    for path in files:
        try:
            stamped.append((path, path.stat().st_mtime_ns))
        except OSError as err:
            raise ModelTableError(f"{path}: cannot read: {err.strerror}") from None
    return _load(tuple(stamped))


@dataclass(frozen=True)
class Cost:
    """A request's cost at list price; ``exact`` is False when the token counts are estimates.
    ``output`` is the answer's share, ``reasoning`` the thinking's (billed at the output price,
    as OpenAI and Anthropic bill it)."""

    currency: str
    input: float
    output: float
    exact: bool
    price: Price
    reasoning: float = 0.0

    @property
    def total(self) -> float:
        return self.input + self.output + self.reasoning


def cost_of(
    price: Price | None,
    input_tokens: int,
    output_tokens: int = 0,
    *,
    exact: bool = True,
    reasoning_tokens: int = 0,
) -> Cost | None:
    """The cost of these tokens at ``price``; None when the price is unknown (never a guess).
    ``reasoning_tokens`` are the part of ``output_tokens`` spent thinking, priced apart."""
    if price is None:
        return None
    reasoning = min(reasoning_tokens, output_tokens)
    return Cost(
        currency=price.currency,
        input=input_tokens * price.input / 1_000_000,
        output=(output_tokens - reasoning) * price.output / 1_000_000,
        exact=exact,
        price=price,
        reasoning=reasoning * price.output / 1_000_000,
    )


def format_cost(cost: float | None, currency: str = "USD") -> str:
    """A run's cost in tight figures: "0.0123 USD", "free" for a run that cost nothing (a local
    model), "" when unknown."""
    if cost is None:
        return ""
    if cost == 0:
        return "free"
    digits = 4 if cost < 0.01 else 2
    return f"{cost:,.{digits}f} {currency}"
