"""What the long-context generators share: the document item, the policy's tokenizer and context
length, target-length windows, and verification through the one judge mechanism.

Target lengths: each training prompt gets a target drawn uniformly from the configured lengths the
document can fill (a document shorter than every target is used whole, in the smallest bucket); the
context is a window of that many tokens containing the passage the question came from. Every prompt
is measured before any model call: a prompt longer than the policy model's context is refused with
both numbers, for the whole run when the configuration cannot fit (``ConfigError``), for one record
when one document cannot (a failed record).
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from generators.context._chunking import Chunker, TokenizedText, load_tokenizer
from generators.context._prompts import judge_passage_messages, long_qa_prompt, span_in_passage
from synthgen.context import Context
from synthgen.errors import ConfigError
from synthgen.llm.base import SamplingParams
from synthgen.plugins import PluginConfig
from synthgen.records import Candidate, Record, Verdict, failed_record

MESSAGE_OVERHEAD_TOKENS = 16  # chat-template tokens around one user turn (headers, BOS, end of turn)


class DocumentItem(BaseModel):
    """One document (see synthgen.documents): its text, a title, and why it could not be read."""

    model_config = ConfigDict(extra="allow")

    id: str | None = None
    title: str = ""
    text: str = ""
    read_error: str = ""


class LongContextConfig(PluginConfig):
    """Options both long-context generators share (Llama 3: 8K-token chunks, contexts of 16K-128K)."""

    chunk_tokens: int = Field(8192, ge=16, description="tokens per chunk (Llama 3: 8K)")
    chunk_overlap: int = Field(0, ge=0, description="tokens shared by consecutive chunks")
    target_lengths: list[int] = Field([16384, 32768, 65536, 131072], min_length=1,
                                      description="context lengths of the training prompts, in tokens")
    min_document_tokens: int | None = Field(None, ge=1, description="shorter documents are refused "
                                            "(default: one chunk); pack short ones in the source")
    tokenizer: str | None = Field(None, description="model directory or tokenizer.json; default: the "
                                  "policy backend's own tokenizer")
    max_context_tokens: int | None = Field(None, ge=1, description="the policy model's context; default: read "
                                           "from the backend (max_position_embeddings / max_model_len)")
    answer_samples: int = Field(0, ge=0, le=64, description="K answers sampled with the full context (0: the "
                                "answer written from the passage is the response)")
    span_max_words: int = Field(5, ge=0, description="answers this short must occur in their passage (SQuAD "
                                "normalisation); 0 = off")
    qa_max_tokens: int = Field(1024, ge=1, description="for writing the question/answer pairs")
    answer_max_tokens: int = Field(512, ge=1, description="for an answer sampled with the full context")
    judge_role: str = Field("judge", description="LLM role judging answers and summaries")
    judge_max_tokens: int = Field(256, ge=1)
    temperature: float = Field(0.7, ge=0.0)
    top_p: float = Field(0.9, gt=0.0, le=1.0)


@dataclass
class Resources:
    chunker: Chunker
    max_context: int


def resolve_resources(generator: Any, ctx: Context) -> Resources:
    """The policy's tokenizer and context length, once per generator; ConfigError naming the fix."""
    cached = getattr(generator, "_resources", None)
    if cached is not None:
        return cached
    cfg: LongContextConfig = generator.config
    backend = ctx.llm["policy"].backend if "policy" in ctx.llm else None
    source: Any = cfg.tokenizer or getattr(backend, "tokenizer", None)
    if source is None:
        raise ConfigError(f"the policy backend '{getattr(backend, 'name', '?')}' exposes no tokenizer to chunk "
                          "with: set generator.options.tokenizer to the model's directory or tokenizer.json",
                          field="generator.options.tokenizer")
    try:
        chunker = Chunker(source)
    except Exception as exc:  # noqa: BLE001 - any load failure is the same user fix
        raise ConfigError(f"cannot load the tokenizer {source!r}: {type(exc).__name__}: {exc}; give the policy "
                          "model's directory or its tokenizer.json", field="generator.options.tokenizer") from None
    limit = cfg.max_context_tokens or _backend_context(backend, cfg.tokenizer)
    if not limit:
        raise ConfigError("cannot tell the policy model's context length: set generator.options.max_context_tokens",
                          field="generator.options.max_context_tokens")
    resources = Resources(chunker, limit)
    generator._resources = resources
    return resources


def _backend_context(backend: Any, tokenizer_path: str | None) -> int | None:
    for owner, attr in ((backend, "max_context_tokens"), (getattr(backend, "local", None), "max_positions"),
                        (getattr(backend, "config", None), "max_model_len")):
        value = getattr(owner, attr, None) if owner is not None else None
        if isinstance(value, int) and value > 0:
            return value
    if tokenizer_path:  # a model directory next to the tokenizer
        import json

        config = Path(tokenizer_path) / "config.json"
        if config.is_file():
            value = json.loads(config.read_text()).get("max_position_embeddings")
            return value if isinstance(value, int) else None
    return None


def check_config_fits(cfg: Any, resources: Resources, *, answer_tokens: int, passage_tokens: int,
                      passage_reply_tokens: int) -> None:
    """Refuse, before any call, a configuration whose prompts cannot fit the policy model's context."""
    limit = resources.max_context
    longest = max(cfg.target_lengths) + answer_tokens + PROMPT_TEMPLATE_TOKENS
    if longest > limit:
        raise ConfigError(f"the longest training prompt needs {longest} tokens (target length "
                          f"{max(cfg.target_lengths)} + question and answer) but the policy model's context is "
                          f"{limit} tokens: lower generator.options.target_lengths", field="generator.options")
    need = passage_tokens + passage_reply_tokens + PROMPT_TEMPLATE_TOKENS
    if need > limit:
        raise ConfigError(f"a passage prompt needs {need} tokens ({passage_tokens} of passage + "
                          f"{passage_reply_tokens} to write) but the policy model's context is {limit} tokens: "
                          "lower generator.options.chunk_tokens", field="generator.options.chunk_tokens")
    if cfg.chunk_overlap >= cfg.chunk_tokens:
        raise ConfigError(f"chunk_overlap ({cfg.chunk_overlap}) must be below chunk_tokens ({cfg.chunk_tokens})",
                          field="generator.options.chunk_overlap")


PROMPT_TEMPLATE_TOKENS = 256  # instructions, question and chat template around a context (a safe margin)


def prompt_tokens(chunker: Chunker, messages: list[dict[str, Any]]) -> int:
    texts = [m.get("content") or "" for m in messages]
    return sum(chunker.count_many(texts)) + MESSAGE_OVERHEAD_TOKENS * len(messages)


def document_problem(item: DocumentItem) -> str:
    if item.read_error:
        return f"document unreadable: {item.read_error}"
    if not item.text.strip():
        return "document is empty"
    if "\x00" in item.text:
        return "document is binary (NUL characters), not text"
    return ""


@dataclass(frozen=True)
class Window:
    target: int  # the bucket: the target length drawn (or the smallest, for a whole short document)
    token_start: int
    token_end: int
    text: str


def draw_window(doc: TokenizedText, targets: list[int], rng: random.Random,
                around: tuple[int, int] | None = None) -> Window:
    """A context of a target length drawn among those the document fills, containing ``around``
    (a token range) when given; the whole document when it is shorter than every target."""
    fillable = sorted(t for t in targets if t <= doc.n_tokens)
    if not fillable:
        return Window(min(targets), 0, doc.n_tokens, doc.text)
    target = rng.choice(fillable)
    lo, hi = 0, doc.n_tokens - target
    if around is not None and around[1] - around[0] <= target:
        lo, hi = max(lo, around[1] - target), min(hi, around[0])
    start = doc.clean_token(rng.randint(lo, max(lo, hi)))
    end = min(doc.n_tokens, start + target)
    return Window(target, start, end, doc.slice(start, end))


def bucket_name(tokens: int) -> str:
    return f"{tokens // 1024}K" if tokens % 1024 == 0 else str(tokens)


async def judge_against(ctx: Context, *, rubric: str, role: str, max_tokens: int, passage_messages: list[dict],
                        candidate: Candidate, reference: str | None, key: Any) -> Verdict:
    """Run the ``llm_judge`` verifier with ``rubric`` on ``candidate``, the conversation being
    ``passage_messages`` (the passage, not the long training prompt the candidate belongs to)."""
    from verifiers.llm_judge import JudgeConfig, LLMJudgeVerifier

    judge = LLMJudgeVerifier(JudgeConfig(role=role, rubric=rubric, max_tokens=max_tokens))
    probe = Record(id=f"judge-{key}", messages=passage_messages,
                   metadata={"reference": reference} if reference else {})
    return await judge.verify(probe, candidate, ctx)


def span_verdict(answer: str, passage: str, max_words: int) -> Verdict | None:
    """SQuAD-normalised span match for short answers (None for long ones, which only the judge sees)."""
    words = answer.split()
    if not words or len(words) > max_words:
        return None
    ok = span_in_passage(answer, passage)
    return Verdict(verifier="span_match", passed=ok, score=float(ok),
                   feedback="" if ok else "the short answer does not occur in the passage (normalised)")


async def verify_answer(ctx: Context, cfg: Any, *, passage: str, question: str, candidate: Candidate,
                        reference: str | None, key: Any) -> None:
    """Attach the judge's verdict (and the span match for short answers) to the candidate."""
    verdict = await judge_against(ctx, rubric="passage_qa", role=cfg.judge_role, max_tokens=cfg.judge_max_tokens,
                                  passage_messages=judge_passage_messages(passage, question), candidate=candidate,
                                  reference=reference, key=key)
    candidate.verdicts.append(verdict)
    span = span_verdict(candidate.text, passage, cfg.span_max_words) if cfg.span_max_words else None
    if span is not None:
        candidate.verdicts.append(span)


async def qa_record(generator: Any, ctx: Context, res: Resources, *, item_id: str, record_id: str, window: Window,
                    question: str, answer: str, passage: str, metadata: dict[str, Any]) -> Record:
    """One QA record: the long context + the question as prompt; the passage's answer (or K answers
    sampled with the full context) as candidates, each verified against the passage. A prompt that
    cannot fit the policy's context is a failed record, refused before any call."""
    cfg = generator.config
    messages = long_qa_prompt(window.text, question)
    length = prompt_tokens(res.chunker, messages)
    provenance_roles = ("policy", cfg.judge_role)
    if length + cfg.answer_max_tokens > res.max_context:
        return failed_record(record_id, source_id=item_id, capability=generator.capability,
                             error=f"prompt of {length} tokens + {cfg.answer_max_tokens} to answer does not fit the "
                                   f"policy model's context of {res.max_context} tokens; refused before any call",
                             provenance=ctx.provenance(roles=provenance_roles, parents=[item_id]))
    metadata = {"reference": answer, "question": question, **metadata, "target_tokens": window.target,
                "context_tokens": window.token_end - window.token_start, "prompt_tokens": length}
    params = SamplingParams(n=cfg.answer_samples or 1, temperature=cfg.temperature, top_p=cfg.top_p,
                            max_tokens=cfg.answer_max_tokens)
    record = Record(id=record_id, capability=generator.capability, source_id=item_id, messages=messages,
                    metadata=metadata, provenance=ctx.provenance(roles=provenance_roles, params=params,
                                                                 parents=[item_id]))
    reference: str | None = None  # the passage's own answer is judged against the passage alone
    if cfg.answer_samples:
        (completions,) = await ctx.generate("policy", [messages], params, seed_key=("answer", record_id))
        for i, c in enumerate(completions):
            record.add_candidate([{"role": "assistant", "content": c.text}],
                                 metadata={"sample": i, "finish_reason": c.finish_reason})
        reference = answer
    else:
        record.add_candidate([{"role": "assistant", "content": answer}], metadata={"from": "passage"})
    await asyncio.gather(*(verify_answer(ctx, cfg, passage=passage, question=question, candidate=c,
                                         reference=reference, key=(record_id, i))
                           for i, c in enumerate(record.candidates)))
    return record


def count_records(records: list[Record], stages: dict[str, float]) -> None:
    """Add the verified / kept / per-bucket counts of finished QA or summary records to a funnel."""
    for rec in records:
        if rec.status != "ok":
            continue
        passed = sum(c.passed for c in rec.candidates)
        stages["verified"] = stages.get("verified", 0) + passed
        stages["kept"] = stages.get("kept", 0) + (passed > 0)
        key = "context_" + bucket_name(rec.metadata["target_tokens"])
        stages[key] = stages.get(key, 0) + 1


__all__ = [
    "DocumentItem",
    "LongContextConfig",
    "Resources",
    "Window",
    "bucket_name",
    "check_config_fits",
    "count_records",
    "document_problem",
    "draw_window",
    "judge_against",
    "load_tokenizer",
    "prompt_tokens",
    "qa_record",
    "resolve_resources",
    "span_verdict",
    "verify_answer",
]
