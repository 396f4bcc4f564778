"""Backend discovery through the ``workbench.backends`` entry-point group.

Built-in backends are registered exactly like third-party plugins (see pyproject.toml). Listing
the ids imports nothing; a backend's module is imported the first time that backend is used, so a
heavy SDK stays off the startup path. A plugin that fails to import, or that is not a ``Backend``,
is reported as "broken: <error>" and never takes anything else down.
"""

from __future__ import annotations

import importlib.metadata
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from workbench.backends.base import Backend, BackendOptions
from workbench.core.errors import ErrorCode, KnownError

GROUP = "workbench.backends"
log = logging.getLogger(__name__)


class BackendUnavailableError(KnownError):
    """A backend that is not installed, or whose plugin is broken."""

    code = ErrorCode.BACKEND_UNAVAILABLE


@dataclass(frozen=True)
class BackendInfo:
    """What the Backends dialog and ``workbench backends`` show for one entry point."""

    id: str
    target: str  # "module:Class"
    distribution: str
    status: str  # "ok" or "broken: <error>"
    display_name: str = ""
    user_visible: bool = True

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _distribution(entry_point: importlib.metadata.EntryPoint) -> str:
    dist = getattr(entry_point, "dist", None)
    return getattr(dist, "name", "") or ""


class Registry:
    """The backends installed in this environment."""

    def __init__(self, entry_points: Iterable[importlib.metadata.EntryPoint] | None = None) -> None:
        found = (
            entry_points
            if entry_points is not None
            else importlib.metadata.entry_points(group=GROUP)
        )
        self._entry_points: dict[str, importlib.metadata.EntryPoint] = {}
        self._duplicates: dict[str, str] = {}
        for ep in found:
            if ep.name in self._entry_points:
                first = self._entry_points[ep.name]
                if first.value != ep.value:
                    self._duplicates[ep.name] = (
                        f"two plugins register '{ep.name}': {first.value} "
                        f"({_distribution(first)}) and {ep.value} ({_distribution(ep)})"
                    )
                continue
            self._entry_points[ep.name] = ep
        self._classes: dict[str, type[Backend]] = {}
        self._errors: dict[str, str] = {}
        self._lock = threading.Lock()

    def ids(self) -> list[str]:
        """Every registered id, sorted; imports nothing."""
        return sorted(self._entry_points)

    def __contains__(self, backend_id: object) -> bool:
        return backend_id in self._entry_points

    def load(self, backend_id: str) -> type[Backend]:
        """The backend class, imported on first use; a broken plugin raises
        ``BackendUnavailableError`` with the reason, every time it is asked for."""
        ep = self._entry_points.get(backend_id)
        if ep is None:
            known = ", ".join(self.ids()) or "none"
            raise BackendUnavailableError(f"no backend '{backend_id}'", hint=f"installed: {known}")
        with self._lock:
            if backend_id in self._classes:
                return self._classes[backend_id]
            if backend_id not in self._errors:
                self._import(backend_id, ep)
            if backend_id in self._errors:
                raise BackendUnavailableError(
                    f"backend '{backend_id}' is broken: {self._errors[backend_id]}"
                )
            return self._classes[backend_id]

    def _import(self, backend_id: str, ep: importlib.metadata.EntryPoint) -> None:
        if backend_id in self._duplicates:
            self._errors[backend_id] = self._duplicates[backend_id]
            return
        try:
            loaded = ep.load()
        except (Exception, SystemExit) as err:  # a plugin's import-time failure stays its own
            log.info("backend plugin %s (%s) failed to import", backend_id, ep.value, exc_info=True)
            self._errors[backend_id] = f"{type(err).__name__}: {err}"
            return
        if not (isinstance(loaded, type) and issubclass(loaded, Backend)):
            self._errors[backend_id] = f"{ep.value} is not a Backend subclass"
        elif getattr(loaded, "id", None) != backend_id:
            self._errors[backend_id] = (
                f"{ep.value} has id {getattr(loaded, 'id', None)!r}, not '{backend_id}'"
            )
        else:
            self._classes[backend_id] = loaded

    def info(self, backend_id: str) -> BackendInfo:
        """Status of one backend (imports it)."""
        ep = self._entry_points[backend_id]
        try:
            cls = self.load(backend_id)
        except BackendUnavailableError:
            return BackendInfo(
                backend_id, ep.value, _distribution(ep), f"broken: {self._errors[backend_id]}"
            )
        return BackendInfo(
            backend_id, ep.value, _distribution(ep), "ok", cls.display_name, cls.user_visible
        )

    def infos(self, include_hidden: bool = False) -> list[BackendInfo]:
        """Every backend with its status. Hidden (test) backends are left out unless asked for;
        a broken plugin is always listed, since nobody can tell yet whether it is hidden."""
        infos = [self.info(backend_id) for backend_id in self.ids()]
        return [i for i in infos if include_hidden or i.user_visible]

    def options(
        self, backend_id: str, values: dict[str, Any] | BackendOptions | None = None
    ) -> BackendOptions:
        """Validated options for a backend; a bad value is a ``KnownError`` naming the field."""
        cls = self.load(backend_id)
        if isinstance(values, BackendOptions):
            return values
        try:
            return cls.Options.model_validate(values or {})
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "options"
            missing = [
                ".".join(str(p) for p in e["loc"]) for e in err.errors() if e["type"] == "missing"
            ]
            if missing:
                raise BackendUnavailableError(
                    f"backend '{backend_id}' is not configured: {', '.join(missing)} must be set",
                    hint=f"workbench backends add NAME {backend_id} --option {missing[0]}=...",
                ) from None
            raise KnownError(f"backend '{backend_id}' option {where}: {first['msg']}") from None

    def create(
        self, backend_id: str, values: dict[str, Any] | BackendOptions | None = None
    ) -> Backend:
        """A backend instance with validated options."""
        return self.load(backend_id)(self.options(backend_id, values))

    def needs_configuration(self, backend_id: str) -> bool:
        """True when the backend's options have required fields (a base URL, a region...)."""
        cls = self.load(backend_id)
        return any(f.is_required() for f in cls.Options.model_fields.values())


_default: Registry | None = None
_default_lock = threading.Lock()


def default_registry() -> Registry:
    """The process-wide registry of installed backends."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Registry()
        return _default
