"""API keys: where they come from, and how they are kept out of everything we write.

Lookup order: a key passed explicitly -> the OS keyring (service ``prompt-workbench``) -> an
environment variable. Where no keyring backend exists (a headless Linux has none) we say so once and
use the environment; we never fall back to a plaintext file. Every key that is resolved is
remembered so :func:`redact` can scrub it from error messages and log records.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from workbench.core.errors import KnownError, MissingKeyError

SERVICE = "prompt-workbench"
REDACTED = "[redacted]"
LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KeyRef:
    """Where to look for a key: a keyring entry name and an environment variable. Saved in
    backend settings instead of the key itself."""

    name: str
    env: str = ""

    def places(self) -> str:
        where = f"the keyring entry '{SERVICE}/{self.name}'"
        return f"{where} or the environment variable {self.env}" if self.env else where

    def how_to_set(self) -> str:
        ways = f"store one with `workbench key set {self.name}`"
        return f"set {self.env} or {ways}" if self.env else ways


@dataclass(frozen=True)
class Credential:
    """A resolved key and a description of where it came from (never the key itself)."""

    value: str = field(repr=False)
    source: str


@dataclass(frozen=True)
class KeyringStatus:
    available: bool
    backend: str
    message: str


def resolve(ref: KeyRef, explicit: str | None = None) -> Credential | None:
    """The key for ``ref`` (explicit, keyring, environment), or None when none is set."""
    if explicit:
        return _remembered(Credential(explicit, "the key passed explicitly"))
    value = _keyring_lookup(ref.name)
    if value:
        return _remembered(Credential(value, f"the keyring entry '{SERVICE}/{ref.name}'"))
    if ref.env:
        value = os.environ.get(ref.env, "").strip()
        if value:
            return _remembered(Credential(value, f"the environment variable {ref.env}"))
    return None


def auth_hint(ref: KeyRef, credential: Credential | None) -> str:
    """What to do about a refused key, naming where the refused key came from."""
    if credential is None:
        return f"no API key was sent: {ref.how_to_set()}"
    return f"the key came from {credential.source}; replace it there, or {ref.how_to_set()}"


def is_loopback(host: str) -> bool:
    """True for this machine's own addresses and names."""
    name = host.strip("[]").lower().rstrip(".")
    if name in LOCAL_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def key_required(base_url: str) -> bool:
    """Whether calls to ``base_url`` need a key: a server on this machine or on the local
    network (llama-server, Ollama, a vLLM box at 192.168.x.x or ``gpu.local``) usually takes
    none, so those are sent without one and a 401 says what is missing; a public host (a cloud
    API) always needs one, checked before any request."""
    host = urlsplit(base_url if "://" in base_url else f"http://{base_url}").hostname or ""
    return not (is_loopback(host) or _on_local_network(host))


def _on_local_network(host: str) -> bool:
    """A private or link-local address, an mDNS ``.local``/``.lan`` name or a bare machine name."""
    name = host.strip("[]").lower().rstrip(".")
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return "." not in name or name.endswith((".local", ".lan", ".internal", ".home.arpa"))
    return address.is_private or address.is_link_local


def missing_key(ref: KeyRef) -> MissingKeyError:
    """The error for a backend that needs a key and has none, raised before any request so it
    is not mistaken for a network or server failure."""
    ways = f"set one with `workbench key set {ref.name}` or in Tools ▸ Backends ▸ API key"
    return MissingKeyError(
        f"no API key for '{ref.name}'",
        hint=f"{ways}, or set the environment variable {ref.env}" if ref.env else ways,
    )


class KeyHolder:
    """A backend's key, looked up once on first use (a keyring lookup can cost a D-Bus round
    trip) and shared by its worker threads."""

    def __init__(self, ref: KeyRef, explicit: str | None = None) -> None:
        self.ref = ref
        self._explicit = explicit
        self._lock = threading.Lock()
        self._resolved = False
        self._credential: Credential | None = None

    def get(self) -> Credential | None:
        with self._lock:
            if not self._resolved:
                self._credential = resolve(self.ref, self._explicit)
                self._resolved = True
            return self._credential

    def hint(self) -> str:
        return auth_hint(self.ref, self.get())

    def required(self, base_url: str) -> Credential | None:
        """The key for calls to ``base_url``; raises MissingKeyError when that URL needs a key
        (see :func:`key_required`) and none is set. None only for a keyless loopback server."""
        credential = self.get()
        if credential is None and key_required(base_url):
            raise missing_key(self.ref)
        return credential


_no_keyring_reported = False


def _keyring_lookup(name: str) -> str | None:
    global _no_keyring_reported
    import keyring
    from keyring.errors import KeyringError, NoKeyringError

    try:
        return keyring.get_password(SERVICE, name)
    except NoKeyringError:
        if not _no_keyring_reported:
            _no_keyring_reported = True
            log.info("no OS keyring is available; API keys come from environment variables")
        return None
    except KeyringError as err:
        log.warning(
            "the OS keyring could not be read (%s); using environment variables", type(err).__name__
        )
        return None


def keyring_status() -> KeyringStatus:
    """Whether keys can be stored in an OS keyring here, for the settings dialog and CLI."""
    import keyring
    from keyring.backends import fail, null

    backend = keyring.get_keyring()
    label = f"{type(backend).__module__}.{type(backend).__name__}"
    if isinstance(backend, fail.Keyring | null.Keyring):
        return KeyringStatus(
            False,
            label,
            "no OS keyring is available (common on a headless "
            "Linux): API keys are read from environment variables",
        )
    if _insecure(backend):
        return KeyringStatus(
            False,
            label,
            f"{label} stores keys without real encryption; "
            "keys are read from environment variables instead",
        )
    return KeyringStatus(True, label, f"API keys are stored in the OS keyring ({label})")


def _insecure(backend: Any) -> bool:
    return type(backend).__module__.startswith("keyrings.alt")


def store(name: str, value: str) -> None:
    """Save a key in the OS keyring; a clear error where there is none (never a plain file)."""
    import keyring
    from keyring.errors import KeyringError

    status = keyring_status()
    if not status.available:
        raise KnownError(
            f"cannot store the key '{name}': {status.message}",
            hint="set the backend's environment variable instead",
        )
    try:
        keyring.set_password(SERVICE, name, value)
    except KeyringError as err:
        raise KnownError(
            f"the OS keyring refused to store '{name}': {type(err).__name__}",
            hint="unlock the keyring, or use the environment variable",
        ) from None
    remember_secret(value)


def delete(name: str) -> bool:
    """Remove a stored key; False when there was none."""
    import keyring
    from keyring.errors import KeyringError, PasswordDeleteError

    if not keyring_status().available:
        return False
    try:
        keyring.delete_password(SERVICE, name)
    except PasswordDeleteError:
        return False
    except KeyringError as err:
        raise KnownError(
            f"the OS keyring refused to delete '{name}': {type(err).__name__}"
        ) from None
    return True


# --- redaction -----------------------------------------------------------------------------

_secrets: set[str] = set()
_secrets_lock = threading.Lock()
_MIN_SECRET = 4  # shorter values are placeholders such as "x"; redacting them garbles text

_PATTERNS = (
    # header or setting names followed by their value: "Authorization: Bearer abc", "api_key=abc"
    re.compile(
        r"(?i)\b(authorization|proxy-authorization|x-api-key|api[-_]?key)"
        r"([\"']?\s*[:=]\s*[\"']?)(?:bearer\s+|basic\s+)?[^\s\"',;}]+"
    ),
    re.compile(r"(?i)\b(bearer)(\s+)[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"()()\bsk-(?:ant-)?[A-Za-z0-9_-]{16,}"),
)


def remember_secret(value: str) -> None:
    """Register a value that :func:`redact` must always remove."""
    if len(value) >= _MIN_SECRET:
        with _secrets_lock:
            _secrets.add(value)


def _remembered(credential: Credential) -> Credential:
    remember_secret(credential.value)
    return credential


def redact(text: str) -> str:
    """``text`` without any known key, auth header value or key-shaped token."""
    with _secrets_lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    return text


class RedactingFilter(logging.Filter):
    """Attach to a log handler so no record it writes carries a key."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            if redact(str(exc)) != str(exc):
                record.exc_info, record.exc_text = None, None
                record.msg = f"{record.msg} [{type(exc).__name__}: {redact(str(exc))}]"
        return True


# --- credentials in headers ----------------------------------------------------------------

#: Header-name words that carry a credential (the name split on '-' and '_', lower case).
_SECRET_NAME_WORDS = frozenset(
    {
        "key",
        "apikey",
        "token",
        "secret",
        "password",
        "passwd",
        "auth",
        "authorization",
        "authentication",
        "credential",
        "credentials",
        "cookie",
        "session",
        "signature",
        "bearer",
        "jwt",
    }
)
#: Names with a secret-looking word that are not secrets.
_NOT_SECRET_NAMES = frozenset({"idempotency-key"})
_SECRET_VALUE = re.compile(
    r"(?i)^\s*(?:bearer|basic|token|digest|apikey)\s+\S"  # an auth scheme
    r"|^\s*(?:sk-|sk_|rk_live|pk_live|AIza|ghp_|gho_|github_pat_|glpat-|xox[abpr]-|hf_"
    r"|AKIA|ASIA|eyJ)"  # well-known key prefixes (OpenAI, Google, GitHub, Slack, AWS, JWT ...)
)
_OPAQUE = re.compile(r"^[A-Za-z0-9+/=_.~-]{32,}$")


def _looks_random(value: str) -> bool:
    """A long opaque token: mixed case and digits, or 40+ hex digits (a UUID is neither)."""
    value = value.strip()
    if not _OPAQUE.match(value):
        return False
    mixed = (
        any(c.islower() for c in value)
        and any(c.isupper() for c in value)
        and any(c.isdigit() for c in value)
    )
    return mixed or (len(value) >= 40 and all(c in "0123456789abcdefABCDEF" for c in value))


def credential_header(name: str, value: str) -> str | None:
    """Why the header ``name: value`` looks like it carries a credential, or None.

    Settings files are plain text, so such a header is refused there: an API key belongs in
    the OS keyring or an environment variable."""
    lowered = name.strip().lower()
    words = set(re.split(r"[-_\s]+", lowered))
    if lowered not in _NOT_SECRET_NAMES and (
        words & _SECRET_NAME_WORDS or "apikey" in lowered.replace("-", "").replace("_", "")
    ):
        return f"the header name '{name}' says it carries a credential"
    if _SECRET_VALUE.search(value) or _looks_random(value):
        return f"the value of '{name}' looks like a key or token"
    return None
