"""Built-in assertion kinds, registered with ``workbench.core.evaluation`` on import.

One module per family: ``text`` (equality, substrings, regex, length), ``structured`` (JSON and
JSON schema), ``metrics`` (BLEU, chrF, ROUGE, edit distance/similarity), ``performance`` (latency,
cost), ``guardrails`` (PII, blocked words, denied topics, prompt injection), ``semantic``
(embedding similarity, an optional extra), ``delegated`` (python and LLM-judge kinds, which run
through tools the context carries), ``select_best`` (a judge's pick across a row's cells) and
``tools`` (the model's tool calls).
"""

# Imported for their registrations.
import workbench.core.assertions.delegated
import workbench.core.assertions.guardrails
import workbench.core.assertions.metrics
import workbench.core.assertions.performance
import workbench.core.assertions.select_best
import workbench.core.assertions.semantic
import workbench.core.assertions.structured
import workbench.core.assertions.text
import workbench.core.assertions.tools  # noqa: F401
