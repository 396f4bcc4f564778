"""How many requests a server on this machine takes at once, asked of the server itself.

A local server with no ``concurrency`` set is identified once (``discovery.identify``: the
endpoints only its kind answers), and its kind decides where the adaptive limit starts and how
far it may grow:

- llama-cpp-python's server runs one request at a time and, by default (its
  ``interrupt_requests``), ends the answer streaming early when another request arrives: more
  than one at once silently truncates answers. One, never more.
- llama.cpp's llama-server runs its ``/props`` ``total_slots`` in parallel and queues the rest:
  that many (more only wait in its queue).
- Ollama queues what it cannot run at once; its API does not say how many it runs
  (``OLLAMA_NUM_PARALLEL``): a small start, grown while it keeps up.
- vLLM and TGI batch requests, and the other identified servers queue them: the kind's default.
- An unidentified server may be one that interrupts, and one not answering cannot be asked:
  one at a time, never more (a set ``concurrency`` runs more).

A pool (``base_urls``) sends each request to its least-loaded server, so its limit is its size
times the least any of its servers takes: no server gets more than it said it takes.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass

from workbench.backends.adaptive import CEILING, START, Policy, policy_for, server_urls
from workbench.backends.base import BackendOptions
from workbench.backends.discovery import FoundServer, identify

#: Where an Ollama starts: it runs 1 to 4 at once by default, depending on its memory.
OLLAMA_START = 2


@dataclass(frozen=True)
class Capacity:
    """Requests one server takes at once: where the limit starts, how far it may grow, why."""

    start: int
    ceiling: int
    reason: str


#: Why a server not identified runs one at a time, and how to run more (the estimate says it:
#: a server that ends one answer's streaming when another arrives cuts answers off silently).
UNIDENTIFIED = "an unidentified server: one request at a time; set its concurrency to run more"
#: Nothing accepted a connection: asked again next time (the server may be starting).
UNREACHABLE = Capacity(1, 1, "the server did not answer when asked: one request at a time")


def capacity_of(found: FoundServer | None) -> Capacity:
    """What a server of ``found``'s kind takes (None: an unidentified server)."""
    if found is None or found.kind == "openai":
        return Capacity(1, 1, UNIDENTIFIED)
    name = found.label.removesuffix(found.version).strip()
    if found.kind == "llama_cpp_python":
        return Capacity(1, 1, f"{name}: one request at a time")
    if found.kind == "llamacpp" and found.slots is not None:
        slots = min(found.slots, CEILING)
        return Capacity(slots, slots, f"{name}: {slots} parallel slot{'s' * (slots > 1)}")
    if found.kind == "ollama":
        return Capacity(OLLAMA_START, CEILING, f"{name}, which queues what it cannot run")
    verb = "batches requests" if found.kind in ("vllm", "tgi") else "queues requests"
    return Capacity(START["local_server"], CEILING, f"{name}, which {verb}")


class Capacities:
    """Each local server's :class:`Capacity`, asked once per base URL (a server that did not
    answer: again at the next call). Thread-safe; a server is asked by one thread at a time."""

    def __init__(self) -> None:
        self._known: dict[str, Capacity] = {}
        self._asking: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def of(self, base_url: str) -> Capacity:
        """The server's capacity; blocks up to about a second the first time (call it off the
        GUI thread)."""
        with self._lock:
            asking = self._asking.setdefault(base_url, threading.Lock())
        with asking:
            known = self._known.get(base_url)
            if known is not None:
                return known
            try:
                found = identify(base_url)
            except OSError:
                return UNREACHABLE
            known = self._known[base_url] = capacity_of(found)
            return known

    def policy(self, options: BackendOptions, runs_locally: bool | None = None) -> Policy:
        """``adaptive.policy_for``, with each server on this machine asked what it takes."""
        policy = policy_for(options, runs_locally)
        if policy.kind != "local_server":
            return policy
        each = [self.of(url) for url in server_urls(options)]
        count = len(each)
        start = min(CEILING, count * min(c.start for c in each))
        ceiling = min(CEILING, count * min(c.ceiling for c in each))
        said = Counter(c.reason for c in each)
        reason = "; ".join(r if n == 1 else f"{n} × {r}" for r, n in said.items())
        return Policy("local_server", start, ceiling, reason)
