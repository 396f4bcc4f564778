"""Built-in assertion kinds, registered with ``workbench.core.evaluation`` on import.

One module per family: ``text`` (equality, substrings, regex, length), ``structured`` (JSON and
JSON schema), ``metrics`` (BLEU, chrF, ROUGE, edit distance/similarity), ``performance`` (latency,
cost), ``guardrails`` (PII, blocked words, denied topics, prompt injection), ``semantic``
(embedding similarity, an optional extra) and ``delegated`` (python and LLM-judge kinds, which run
through tools the context carries).
"""

from workbench.core.assertions import (  # noqa: F401  (imported for their registrations)
    delegated,
    guardrails,
    metrics,
    performance,
    semantic,
    structured,
    text,
)
