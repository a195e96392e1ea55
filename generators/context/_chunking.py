"""Token-exact chunking of long documents with the policy model's own tokenizer.

A document is tokenised once. Chunks are ``chunk_tokens`` tokens of that tokenisation (the last
one shorter), cut on token boundaries and mapped back to character offsets, so the chunk texts
joined (without overlap) are the document, character for character.

Speed: one ``encode`` of a megabyte-long string is slower than encoding its paragraphs in a batch
(``encode_batch`` runs in Rust threads, and the Python list of offsets for a million tokens costs
as much as the encoding). So the text is cut into pieces of about ``piece_chars`` at
whitespace-to-text transitions, the pieces are batch-encoded, and only the offsets of the tokens
that become chunk boundaries are read (``Encoding.token_to_chars``). Cutting a text can change its
tokenisation (a pre-token spanning the cut, a prefix space added to each piece by a Metaspace or
``add_prefix_space`` tokenizer), so every cut is checked first: the ids of a window around it must
equal the ids of its two halves. A cut that fails the check is not used; the ids are then the same
as those of encoding the whole text at once, which the tests check on several tokenizers.
"""

from __future__ import annotations

import bisect
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tokenizers import Encoding, Tokenizer

_SEAM_WINDOW = 256  # characters each side of a cut in the additivity check
_SEAM = re.compile(r"\s\S")  # a whitespace-to-text transition: where pre-tokenizers split anyway


def load_tokenizer(source: Any) -> Tokenizer:
    """A private ``tokenizers.Tokenizer`` (no truncation, no padding) from a path, a transformers fast
    tokenizer or a ``Tokenizer``. Private: a Rust tokenizer shared with a backend thread can fail
    with 'Already borrowed'."""
    if isinstance(source, Tokenizer):
        tok = Tokenizer.from_str(source.to_str())
    elif hasattr(source, "backend_tokenizer"):  # transformers PreTrainedTokenizerFast
        tok = Tokenizer.from_str(source.backend_tokenizer.to_str())
    else:
        path = Path(source)
        if path.is_dir():
            if (path / "tokenizer.json").is_file():
                path = path / "tokenizer.json"
            else:
                from transformers import AutoTokenizer

                fast = AutoTokenizer.from_pretrained(str(path))
                if not hasattr(fast, "backend_tokenizer"):
                    raise ValueError(f"{source}: no fast tokenizer (tokenizer.json) to chunk with")
                return load_tokenizer(fast)
        tok = Tokenizer.from_file(str(path))
    tok.no_truncation()
    tok.no_padding()
    return tok


@dataclass(frozen=True)
class Chunk:
    index: int
    token_start: int
    token_end: int  # exclusive
    char_start: int
    char_end: int  # exclusive
    text: str

    @property
    def tokens(self) -> int:
        return self.token_end - self.token_start


class TokenizedText:
    """A text and its tokenisation as encoded pieces; maps token indices to character offsets."""

    def __init__(self, text: str, pieces: list[tuple[int, Encoding]]) -> None:
        self.text = text
        self._piece_chars = [start for start, _ in pieces]
        self._encodings = [enc for _, enc in pieces]
        self._piece_tokens: list[int] = []
        total = 0
        for enc in self._encodings:
            self._piece_tokens.append(total)
            total += len(enc)
        self.n_tokens = total

    @property
    def ids(self) -> list[int]:
        return [i for enc in self._encodings for i in enc.ids]

    def _span(self, token: int) -> tuple[int, int] | None:
        p = bisect.bisect_right(self._piece_tokens, token) - 1
        span = self._encodings[p].token_to_chars(token - self._piece_tokens[p])
        if span is None:
            return None
        return span[0] + self._piece_chars[p], span[1] + self._piece_chars[p]

    def char_at(self, token: int) -> int:
        """Character offset where the boundary before ``token`` falls (0 and len(text) at the ends).

        The cut goes at the end of the previous token: tokens with trimmed offsets (a byte-level
        ' word' maps to 'word') keep their leading space, and whitespace no token covers (WordPiece)
        stays with the text before it. A token that shares its character with the previous one (a
        multi-byte character split into byte tokens) moves the cut forward to the next clean one."""
        if token <= 0:
            return 0
        while token < self.n_tokens:
            prev, cur = self._span(token - 1), self._span(token)
            if prev is None or cur is None or cur[0] >= prev[1]:
                if prev is not None:
                    return prev[1]
                if cur is not None:
                    return cur[0]
            token += 1
        return len(self.text)

    def clean_token(self, token: int) -> int:
        """The first token index >= ``token`` where a cut falls on a character boundary."""
        while 0 < token < self.n_tokens:
            prev, cur = self._span(token - 1), self._span(token)
            if prev is None or cur is None or cur[0] >= prev[1]:
                return token
            token += 1
        return max(0, min(token, self.n_tokens))

    def slice(self, token_start: int, token_end: int) -> str:
        return self.text[self.char_at(token_start):self.char_at(token_end)]

    def chunks(self, chunk_tokens: int, overlap: int = 0) -> list[Chunk]:
        """Chunks of ``chunk_tokens`` tokens; consecutive chunks share ``overlap`` tokens."""
        if chunk_tokens < 1 or not 0 <= overlap < chunk_tokens:
            raise ValueError(f"need chunk_tokens >= 1 and 0 <= overlap < chunk_tokens "
                             f"(got {chunk_tokens}, {overlap})")
        if self.n_tokens == 0:
            return []
        step = chunk_tokens - overlap
        out: list[Chunk] = []
        start = 0
        while True:
            end = self.clean_token(min(start + chunk_tokens, self.n_tokens))
            a, b = self.char_at(start), self.char_at(end)
            out.append(Chunk(len(out), start, end, a, b, self.text[a:b]))
            if end >= self.n_tokens:
                return out
            start = self.clean_token(max(start + step, 1))
            if start >= end and overlap:  # a clean cut moved past the overlap: continue where we stopped
                start = end


class Chunker:
    """Tokenise texts with one tokenizer; see the module docstring for the piecewise encoding."""

    def __init__(self, tokenizer: Any, *, piece_chars: int = 16_384) -> None:
        self.tokenizer = load_tokenizer(tokenizer)
        self.piece_chars = piece_chars

    def count(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def count_many(self, texts: list[str]) -> list[int]:
        return [len(e) for e in self.tokenizer.encode_batch(texts, add_special_tokens=False)]

    def _candidate_cuts(self, text: str) -> list[int]:
        cuts, pos = [], self.piece_chars
        while pos < len(text) - self.piece_chars // 4:
            window = text[pos:pos + 4096]
            at = window.find("\n")  # a line start is the safest cut; any whitespace-to-text otherwise
            m = _SEAM.search(window, at) if at >= 0 else None
            m = m or _SEAM.search(window)
            if m:
                cuts.append(pos + m.start() + 1)
            pos += self.piece_chars
        return cuts

    def _additive(self, text: str, cuts: list[int]) -> list[int]:
        """The cuts where ids(window) == ids(left half) + ids(right half)."""
        if not cuts:
            return []
        batch = []
        for c in cuts:
            a, b = max(0, c - _SEAM_WINDOW), min(len(text), c + _SEAM_WINDOW)
            batch += [text[a:b], text[a:c], text[c:b]]
        encs = self.tokenizer.encode_batch(batch, add_special_tokens=False)
        return [c for i, c in enumerate(cuts)
                if encs[3 * i].ids == encs[3 * i + 1].ids + encs[3 * i + 2].ids]

    def tokenize(self, text: str) -> TokenizedText:
        cuts = self._additive(text, self._candidate_cuts(text)) if len(text) > 2 * self.piece_chars else []
        bounds = [0, *cuts, len(text)]
        starts = bounds[:-1]
        encs = self.tokenizer.encode_batch([text[a:b] for a, b in itertools.pairwise(bounds)],
                                           add_special_tokens=False)
        return TokenizedText(text, list(zip(starts, encs)))

    def chunk(self, text: str, chunk_tokens: int, overlap: int = 0) -> list[Chunk]:
        return self.tokenize(text).chunks(chunk_tokens, overlap)
