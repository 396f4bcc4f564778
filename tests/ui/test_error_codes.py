"""Advice on where to fix a failure is looked up by the error's explicit code, never by its class
name: two different ``NotFoundError`` classes (a backend's 404, a record missing from the store)
used to get the same advice ("The model and base URL are set in Tools ▸ Backends…")."""

from __future__ import annotations

from workbench.backends.config import BackendConfigError
from workbench.backends.registry import BackendUnavailableError
from workbench.core import errors
from workbench.core.errors import ErrorCode, KnownError
from workbench.storage import db
from workbench.ui.run_text import DEFAULT_WHAT_TO_DO, what_to_do


def test_the_two_not_found_errors_get_different_advice() -> None:
    model_missing = errors.NotFoundError("model 'gpt-9' not found (HTTP 404)")
    run_missing = db.NotFoundError("no run with id 'r1'")
    assert type(model_missing).__name__ == type(run_missing).__name__  # the old lookup key
    assert model_missing.code == ErrorCode.MODEL_NOT_FOUND
    assert run_missing.code == ErrorCode.RECORD_NOT_FOUND
    assert "base URL" in what_to_do(model_missing.code)
    assert "Tools ▸ Backends" not in what_to_do(run_missing.code)
    assert what_to_do(run_missing.code) != DEFAULT_WHAT_TO_DO


def test_a_subclass_without_its_own_code_gets_its_family_advice() -> None:
    class QuotaError(errors.RateLimitError):
        """A plugin's own error class."""

    assert QuotaError("quota").code == ErrorCode.RATE_LIMIT
    assert what_to_do(QuotaError("quota").code) == what_to_do(ErrorCode.RATE_LIMIT)


def test_codes_of_runs_stored_before_codes_existed_keep_their_advice() -> None:
    """A failed run stores its code as ``error_kind``; history written before stored the class
    name, which the codes kept."""
    assert what_to_do("ConnectError") == what_to_do(errors.ConnectError("x").code)
    assert what_to_do("SomethingUnknown") == what_to_do(None) == DEFAULT_WHAT_TO_DO


def test_each_app_error_says_its_kind() -> None:
    found = {
        cls: cls("x").code
        for cls in (BackendUnavailableError, BackendConfigError, db.StorageError)
    }
    assert found == {
        BackendUnavailableError: ErrorCode.BACKEND_UNAVAILABLE,
        BackendConfigError: ErrorCode.BACKEND_CONFIG,
        db.StorageError: ErrorCode.STORAGE,
    }
    assert KnownError("x").code == ErrorCode.ERROR
    assert all(what_to_do(c) != DEFAULT_WHAT_TO_DO for c in found.values())
