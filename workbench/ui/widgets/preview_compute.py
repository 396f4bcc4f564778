"""What the preview shows, computed off the GUI thread: render, count, fit, cost, token spans.

``PreviewComputer`` keeps state between previews (the tokenizer per model, one
``IncrementalCounter`` per message and for the raw prompt), so typing into a large template
re-encodes only the region around the edit; a big template is rendered in a helper process
(``render_process``) so the GUI thread never waits for the GIL. It is used from one worker
thread at a time.
Everything it returns is plain Python, ready for the GUI thread to apply.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from workbench.core.errors import KnownError, MissingVariableError, TemplateError
from workbench.core.grid import output_budget
from workbench.core.images import ImageFormula, image_formula
from workbench.core.incremental import IncrementalCounter, is_boundary
from workbench.core.model_table import Cost, Price, cost_of, load_model_table
from workbench.core.models import PromptTemplate, RenderedMessage
from workbench.core.tokens import (
    ChatCount,
    ContextFit,
    TiktokenTokenizer,
    Tokenizer,
    count_chat,
    fit_context,
    format_count,
    tokenizer_for,
)
from workbench.ui.widgets.render_process import (
    discover_variables,
    render_chat,
    render_text_prompt,
)
from workbench.ui.widgets.text_edits import Edit, Segment, for_display, segment_edits, utf16_len

#: A function that turns rendered messages into the raw prompt a local model reads.
RawPromptFunction = Callable[[list[RenderedMessage]], str]

#: How much text the token view colours by default (~5,000 tokens); more on request.
TOKEN_VIEW_CHARS = 20_000


@dataclass(frozen=True)
class PreviewRequest:
    """Everything one preview depends on."""

    template: PromptTemplate
    values: dict[str, str]
    model: str | None = None
    max_tokens: int | None = None
    default_max_tokens: int | None = None  # what the backend sends when max_tokens is unset
    thinking_budget: int | None = None  # the part of max tokens the model may think with
    context_window: int | None = None  # overrides the model table's window
    price: Price | None = None  # overrides the model table's price (a local model's NO_CHARGE)
    raw_prompt: RawPromptFunction | None = None
    want_tokens: bool = False
    token_chars: int = TOKEN_VIEW_CHARS
    shown_messages: tuple[Segment, ...] = ()
    shown_raw: tuple[Segment, ...] = ()


@dataclass(frozen=True)
class TokenView:
    """The text of the token view with the tokens to colour, in UTF-16 positions."""

    text: str
    starts: list[int]
    ends: list[int]
    ids: list[int]
    headers: list[tuple[int, int]]
    shown_tokens: int
    truncated: bool


@dataclass
class Preview:
    """A rendered, counted preview (or the error that stopped it)."""

    request: PreviewRequest
    error: TemplateError | None = None
    missing: list[str] = field(default_factory=list)  # every variable without a value
    completion: bool = False
    messages: list[RenderedMessage] = field(default_factory=list)
    content_tokens: list[int] = field(default_factory=list)
    message_segments: tuple[Segment, ...] = ()
    message_edits: list[Edit] | None = None
    raw_prompt: str | None = None
    raw_error: TemplateError | None = None
    raw_segments: tuple[Segment, ...] = ()
    raw_edits: list[Edit] | None = None
    total: int = 0
    exact: bool = False
    tokenizer: str = ""
    note: str = ""
    counted: str = "messages"  # "messages" | "raw prompt" | "text"
    reply_priming: int = 0
    fit: ContextFit | None = None
    context_window: int | None = None
    cost: Cost | None = None
    output_tokens: int = 0  # the answer's budget the cost counts: max tokens, or the default
    output_assumed: bool = False  # no max tokens set: the budget is the estimates' default
    reasoning_tokens: int = 0  # the part of output_tokens a thinking budget may spend
    tokens: TokenView | None = None

    @property
    def count_text(self) -> str:
        """"1,234" or "≈ 1,234"."""
        return format_count(self.total, self.exact)


class _Precounted(TiktokenTokenizer):
    """A tiktoken tokenizer that answers for texts already counted incrementally.

    ``count_chat`` counts each message's fields with the tokenizer it is given; handing it this
    one lets the message contents' counts come from the ``IncrementalCounter``s while the
    accounting (and its exactness rule for tiktoken encodings) stays ``count_chat``'s own.
    """

    def __init__(self, base: TiktokenTokenizer, known: dict[str, int]) -> None:
        super().__init__(base.name, exact=base.exact, note=base.note)
        self._known = known

    def count(self, text: str) -> int:
        known = self._known.get(text)
        return known if known is not None else super().count(text)


class PreviewComputer:
    """Computes previews; keeps tokenizers and incremental counters between them."""

    def __init__(self) -> None:
        self._tokenizers: dict[str | None, Tokenizer] = {}
        self._counters: list[IncrementalCounter] = []
        self._raw_counter: IncrementalCounter | None = None

    def tokenizer(self, model: str | None) -> Tokenizer:
        tokenizer = self._tokenizers.get(model)
        if tokenizer is None:
            tokenizer = self._tokenizers[model] = tokenizer_for(model=model or None)
        return tokenizer

    def forget_tokenizers(self) -> None:
        """Ask again which tokenizer each model uses (a backend registered a new one)."""
        self._tokenizers.clear()

    def _counter(self, index: int, tokenizer: Tokenizer) -> IncrementalCounter:
        while len(self._counters) <= index:
            self._counters.append(IncrementalCounter(tokenizer))
        if self._counters[index].tokenizer is not tokenizer:
            self._counters[index] = IncrementalCounter(tokenizer)
        return self._counters[index]

    def _raw_count(self, text: str, tokenizer: Tokenizer) -> int:
        if self._raw_counter is None or self._raw_counter.tokenizer is not tokenizer:
            self._raw_counter = IncrementalCounter(tokenizer)
        return self._raw_counter.update(text)

    def compute(self, request: PreviewRequest) -> Preview:
        preview = Preview(request)
        tokenizer = self.tokenizer(request.model)
        preview.tokenizer = tokenizer.name
        preview.note = tokenizer.note
        try:
            if request.template.mode == "completion":
                self._completion(preview, tokenizer)
            else:
                self._chat(preview, tokenizer)
        except TemplateError as err:
            preview.error = err
            if isinstance(err, MissingVariableError):
                preview.missing = _missing(request)
            return preview
        self._fit_and_cost(preview)
        if request.want_tokens:
            preview.tokens = self._token_view(preview, tokenizer)
        return preview

    def _completion(self, preview: Preview, tokenizer: Tokenizer) -> None:
        request = preview.request
        text = render_text_prompt(request.template, request.values, tokenizer.count)
        preview.completion = True
        preview.messages = [RenderedMessage(role="user", content=text)]
        preview.total = self._counter(0, tokenizer).update(text)
        preview.content_tokens = [preview.total]
        preview.exact = tokenizer.exact
        preview.counted = "text"
        preview.message_segments = (
            Segment(_header("prompt", preview.total, tokenizer.exact), header=True),
            Segment(for_display(text)),
        )
        preview.message_edits = segment_edits(request.shown_messages, preview.message_segments)

    def _chat(self, preview: Preview, tokenizer: Tokenizer) -> None:
        request = preview.request
        messages = render_chat(request.template, request.values, tokenizer.count)
        contents = [self._counter(i, tokenizer).update(m.content) for i, m in enumerate(messages)]
        del self._counters[len(messages):]
        chat = self._count_chat(messages, contents, tokenizer, image_formula(request.model))
        preview.messages = messages
        preview.content_tokens = contents
        preview.total = chat.total
        preview.exact = chat.exact
        preview.reply_priming = chat.reply_priming
        if tokenizer.exact and not chat.exact:
            preview.note += "; the per-message overhead is OpenAI's formula, an estimate here"
        segments: list[Segment] = []
        for i, (message, count) in enumerate(zip(messages, contents, strict=True)):
            lead = "\n\n" if i else ""
            header = _header(message.role, count, tokenizer.exact)
            if message.images:
                header = header[:-1] + _images_note(len(message.images), chat.messages[i].images)
            segments.append(Segment(lead + header, True))
            segments.append(Segment(for_display(message.content)))
        preview.message_segments = tuple(segments)
        preview.message_edits = segment_edits(request.shown_messages, preview.message_segments)
        if request.raw_prompt is not None:
            try:
                raw = request.raw_prompt(messages)
            except KnownError as err:
                preview.raw_error = (
                    err if isinstance(err, TemplateError) else TemplateError(str(err))
                )
            else:
                preview.raw_prompt = raw
                preview.total = self._raw_count(raw, tokenizer)
                preview.exact = tokenizer.exact
                preview.counted = "raw prompt"
                preview.note = tokenizer.note + "; counted on the raw prompt the model reads"
                preview.raw_segments = (Segment(for_display(raw)),)
                preview.raw_edits = segment_edits(request.shown_raw, preview.raw_segments)

    @staticmethod
    def _count_chat(
        messages: list[RenderedMessage],
        contents: list[int],
        tokenizer: Tokenizer,
        images: ImageFormula,
    ) -> ChatCount:
        if isinstance(tokenizer, TiktokenTokenizer):
            known = {m.content: n for m, n in zip(messages, contents, strict=True)}
            return count_chat(messages, _Precounted(tokenizer, known), images)
        return count_chat(messages, tokenizer, images)

    def _fit_and_cost(self, preview: Preview) -> None:
        request = preview.request
        info = load_model_table().lookup(request.model) if request.model else None
        window = request.context_window or (info.context_window if info is not None else None)
        preview.context_window = window
        if window is not None:  # an unset limit is not held against the window
            preview.fit = fit_context(preview.total, window, request.max_tokens)
        limit = request.max_tokens if request.max_tokens is not None else request.default_max_tokens
        preview.output_tokens = output_budget(limit)
        preview.output_assumed = request.max_tokens is None
        preview.reasoning_tokens = min(request.thinking_budget or 0, preview.output_tokens)
        preview.cost = cost_of(
            request.price or (info.price if info is not None else None),
            preview.total,
            preview.output_tokens,
            exact=preview.exact,
            reasoning_tokens=preview.reasoning_tokens,
        )

    def _token_view(self, preview: Preview, tokenizer: Tokenizer) -> TokenView:
        """The tokens of what is counted: the raw prompt, or each message's content."""
        if preview.raw_prompt is not None:
            parts: list[tuple[str, str]] = [("", preview.raw_prompt)]
        elif preview.completion:
            parts = [("", preview.messages[0].content)]
        else:
            parts = [
                (_header(m.role, n, preview.exact and tokenizer.exact), m.content)
                for m, n in zip(preview.messages, preview.content_tokens, strict=True)
            ]
        budget = preview.request.token_chars
        pieces: list[str] = []
        starts: list[int] = []
        ends: list[int] = []
        ids: list[int] = []
        headers: list[tuple[int, int]] = []
        position = 0
        truncated = False
        for i, (header, content) in enumerate(parts):
            if header:
                header = ("\n\n" if i else "") + header
                headers.append((position, position + utf16_len(header)))
                pieces.append(header)
                position += utf16_len(header)
            text = content
            if len(text) > budget:
                text, truncated = text[: _cut(text, budget)], True
            budget -= len(text)
            for span in tokenizer.spans(text) if text else []:
                shown = for_display(span.text)
                if span.end > span.start:
                    starts.append(position)
                    ends.append(position + utf16_len(shown))
                    ids.append(span.id)
                pieces.append(shown)
                position += utf16_len(shown)
            if budget <= 0:
                truncated = truncated or i < len(parts) - 1
                break
        return TokenView("".join(pieces), starts, ends, ids, headers, len(starts), truncated)


def _missing(request: PreviewRequest) -> list[str]:
    """The variables the template uses that have neither a value nor a default, in the
    variables form's order (declared first), so the preview can name them all at once."""
    template = request.template
    found = discover_variables(template)
    used = set(found.used)
    declared = [v.name for v in template.variables if v.default is None and v.name in used]
    return [n for n in [*declared, *found.undeclared] if n not in request.values]


def give_values(names: list[str]) -> str:
    """"Give 'a' a value" / "Give 'a', 'b' and 'c' values": the start of a note on missing
    variables (the preview's, the token summary's)."""
    quoted = [f"'{name}'" for name in names]
    if len(quoted) == 1:
        return f"Give {quoted[0]} a value"
    return f"Give {', '.join(quoted[:-1])} and {quoted[-1]} values"


def _cut(text: str, limit: int) -> int:
    """A position near ``limit`` where tokens of the prefix are those of the whole text."""
    for pos in range(limit, min(len(text), limit + 2000)):
        if is_boundary(text, pos):
            return pos
    return limit


def _header(role: str, tokens: int, exact: bool) -> str:
    return f"{role.upper()} · {format_count(tokens, exact)} tokens\n"


def _images_note(count: int, tokens: int) -> str:
    """What a header adds for a message's images (their tokens by the provider's formula)."""
    return f" + {count} image{'s' if count > 1 else ''} ({tokens:,} tokens)\n"
