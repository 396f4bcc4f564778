"""The batch contract's lookup: a backend whose provider has no batch API says so, with a hint,
instead of failing later at submit."""

from __future__ import annotations

import pytest

from workbench.backends.batch import BatchUnsupported, batch_provider, supports_batch
from workbench.backends.scripted import ScriptedBackend


def test_a_backend_without_a_batch_api_is_refused_with_a_hint() -> None:
    backend = ScriptedBackend()
    assert not supports_batch(backend)
    with pytest.raises(BatchUnsupported) as raised:
        batch_provider(backend)
    assert "run it live" in raised.value.hint
