"""Long-context QA (Llama 3): questions written from one random chunk, asked over the whole document.

For each document (a source item, see :mod:`synthgen.documents`):
1. tokenise it with the policy model's tokenizer and cut it into ``chunk_tokens`` chunks
   (:mod:`generators.context._chunking`); draw ``chunks_per_document`` chunks uniformly at random
   (a short tail chunk is not drawn), so question positions spread over the whole document;
2. the ``policy`` writes ``questions_per_chunk`` question/answer pairs from the chunk alone;
3. each question becomes a record whose prompt is a context of a target length (16K-128K tokens,
   drawn per record, containing the chunk; the whole document when it is shorter) + the question;
4. candidates: the chunk's own answer (``answer_samples: 0``), or K answers the policy samples with
   the full context. Each is verified against the chunk it came from: the ``llm_judge`` verifier
   with the ``passage_qa`` rubric (supported by the passage, answers the question; the chunk's answer
   as reference) and, for answers of at most ``span_max_words`` words, a SQuAD-normalised span match.
   Selection keeps the verified ones.

Recorded reasons, never a crash: an empty, binary or unreadable document, a document shorter than
``min_document_tokens``, model output with no parseable pair (one failed record per chunk), a prompt
longer than the model's context (refused before any call). ``metadata`` holds the chunk's position
(index, token and character offsets, relative position in the document and depth in the context),
the target bucket and the prompt's length; ``metadata.stages`` the funnel of the document.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from generators.context._chunking import Chunk, TokenizedText
from generators.context._common import (
    DocumentItem,
    LongContextConfig,
    check_config_fits,
    count_records,
    document_problem,
    draw_window,
    qa_record,
    resolve_resources,
)
from generators.context._prompts import parse_qa_pairs, qa_writing_prompt
from synthgen.context import Context
from synthgen.llm.base import SamplingParams
from synthgen.plugins import Generator
from synthgen.records import Record, content_hash, failed_record


class LongQAConfig(LongContextConfig):
    chunks_per_document: int = Field(1, ge=1, description="random chunks per document that questions come from")
    questions_per_chunk: int = Field(3, ge=1, le=50)


def draw_chunks(chunks: list[Chunk], k: int, rng: random.Random, chunk_tokens: int) -> list[Chunk]:
    """``k`` distinct chunks drawn uniformly; a tail chunk under half a chunk is not drawn (too little
    to write questions from) unless it is all there is."""
    eligible = [c for c in chunks if c.tokens * 2 >= chunk_tokens] or chunks
    return sorted(rng.sample(eligible, min(k, len(eligible))), key=lambda c: c.index)


class LongContextQAGenerator(Generator):
    name: ClassVar[str] = "long_context_qa"
    version: ClassVar[str] = "0.1"
    capability: ClassVar[str] = "long_context"
    Config: ClassVar[type[BaseModel]] = LongQAConfig
    Item: ClassVar[type[BaseModel]] = DocumentItem
    roles: ClassVar[tuple[str, ...]] = ("policy", "judge")

    def _failed(self, item_id: str, ctx: Context, error: str, *key: Any, stages: dict | None = None) -> Record:
        rec = failed_record(content_hash(self.name, item_id, "failed", *key), source_id=item_id,
                            capability=self.capability, error=error,
                            provenance=ctx.provenance(roles=("policy",), parents=[item_id]))
        rec.metadata["stages"] = stages if stages is not None else {"documents": 1, "failed_documents": 1}
        return rec

    async def generate(self, item: DocumentItem, ctx: Context) -> list[Record]:
        cfg: LongQAConfig = self.config
        item_id = item.id or content_hash(item.text)
        problem = document_problem(item)
        if problem:
            return [self._failed(item_id, ctx, problem)]
        res = resolve_resources(self, ctx)
        check_config_fits(cfg, res, answer_tokens=cfg.answer_max_tokens, passage_tokens=cfg.chunk_tokens,
                          passage_reply_tokens=cfg.qa_max_tokens)
        doc: TokenizedText = await asyncio.to_thread(res.chunker.tokenize, item.text)
        minimum = cfg.min_document_tokens or cfg.chunk_tokens
        if doc.n_tokens < minimum:
            return [self._failed(item_id, ctx, f"document has {doc.n_tokens} tokens, shorter than one chunk "
                                 f"({minimum}); pack short documents (source `documents.pack_to_tokens`) or lower "
                                 "chunk_tokens / min_document_tokens")]
        chunks = doc.chunks(cfg.chunk_tokens, cfg.chunk_overlap)
        picked = draw_chunks(chunks, cfg.chunks_per_document, ctx.rng, cfg.chunk_tokens)
        params = SamplingParams(temperature=cfg.temperature, top_p=cfg.top_p, max_tokens=cfg.qa_max_tokens)
        outputs = await ctx.generate("policy", [qa_writing_prompt(c.text, cfg.questions_per_chunk) for c in picked],
                                     params, seed_key="write_qa")
        stages: dict[str, float] = {"documents": 1, "document_tokens": doc.n_tokens, "chunks": len(chunks),
                                    "chunks_used": len(picked), "questions": 0, "verified": 0, "kept": 0}
        records: list[Record] = []
        jobs = []
        for chunk, completions in zip(picked, outputs):
            pairs, reason = parse_qa_pairs(completions[0].text if completions else "", cfg.questions_per_chunk)
            if not pairs:
                stages["unparseable_chunks"] = stages.get("unparseable_chunks", 0) + 1
                records.append(self._failed(item_id, ctx, reason, chunk.index, stages={}))
                continue
            for n, (question, answer) in enumerate(pairs):
                stages["questions"] += 1
                rng = random.Random(ctx.sample_seed("window", chunk.index, n))
                window = draw_window(doc, cfg.target_lengths, rng, around=(chunk.token_start, chunk.token_end))
                depth = (chunk.token_start - window.token_start) / max(1, window.token_end - window.token_start)
                position = {"index": chunk.index, "token_start": chunk.token_start, "token_end": chunk.token_end,
                            "char_start": chunk.char_start, "char_end": chunk.char_end,
                            "relative_position": round(chunk.token_start / max(1, doc.n_tokens), 4),
                            "depth_in_context": round(depth, 4)}
                jobs.append(qa_record(self, ctx, res, item_id=item_id, window=window, question=question,
                                      answer=answer, passage=chunk.text,
                                      record_id=content_hash(self.name, item_id, chunk.index, n, question),
                                      metadata={"title": item.title, "document_tokens": doc.n_tokens,
                                                "chunk": position, "reference_source": "chunk"}))
        finished = list(await asyncio.gather(*jobs))
        count_records(finished, stages)
        records += finished
        records[0].metadata["stages"] = stages  # the document's funnel, counted once
        return records
