"""Factuality (knowledge probing): teach the model to answer what it knows and decline what it does not.

The Llama 3 recipe: take a snippet of pre-training text, write a factual question about it, sample
answers from the model, judge them against the snippet for correctness and informativeness, and
where the answers are consistently informative but wrong, write a refusal.

One source item is a snippet or a longer document (``{id, text, title?, topic?}``; build a spread
sample from a corpus with ``python -m generators.knowledge.corpus``). Per item:
1. ``snippets_per_document`` snippets, paragraph-aligned, spread over the document.
2. The ``question_role`` model writes ``questions_per_snippet`` questions, each with a short answer
   copied from the snippet. A question whose answer is not in the snippet, is too long, is given
   away by the question, or needs the passage to make sense is dropped (counted, with its reason);
   a snippet that yields no usable question is a failed record saying why ("no checkable fact").
3. K answers from the ``policy`` WITHOUT the snippet.
4. Each answer is labelled correct / incorrect / declined / uninformative: declines by pattern;
   short answers by SQuAD-style matching (exact match, containment, token F1 >= ``f1_correct``,
   F1 == 0 means wrong); the rest by the ``judge`` role with the ``factuality`` rubric, through the
   ``llm_judge`` verifier (retried when unparseable, then ``unjudged`` with the reason).
5. The question is ``known`` (correct share >= ``known_min_correct``), ``unknown`` (correct share <=
   ``unknown_max_correct`` and informative-but-wrong share >= ``unknown_min_wrong``), ``mixed``
   (sometimes correct), ``declined`` (the model already declines) or ``unjudged``.
6. Rows: a correct answer passes (SFT for known questions, and the chosen side of correct-over-wrong
   DPO pairs for mixed ones); for unknown questions a refusal (written by the policy from
   ``refusal_instruction`` and checked to be a refusal, else ``refusal_template``) passes and is
   paired over each hallucination (refusal-over-hallucination DPO). Declines pass only where the
   model does not know. Counts per class go to ``record.metadata['stages']`` (summed in the run summary).
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from generators.knowledge._matching import DEFAULT_DECLINE_PATTERNS, DeclineDetector, split_snippets
from generators.knowledge._prompts import (DEFAULT_REFUSAL_INSTRUCTION, DEFAULT_REFUSAL_TEMPLATE, QA,
                                           parse_questions, question_problem, question_prompt, says_none)
from generators.knowledge._labels import AnswerLabel, classify, label_answer
from synthgen.context import Context
from synthgen.llm.base import SamplingParams
from synthgen.plugins import Generator, PluginConfig
from synthgen.records import Message, PreferencePair, Record, Verdict, content_hash, failed_record
from verifiers.llm_judge import JudgeConfig, LLMJudgeVerifier


class FactualityItem(BaseModel):
    """A snippet or document of reference text; optionally a question and answer already written."""

    model_config = ConfigDict(extra="allow")

    id: str | None = None
    text: str = Field(..., min_length=1)
    title: str | None = None
    topic: str | None = None
    question: str | None = None
    answer: str | None = None

    @model_validator(mode="after")
    def _both_or_neither(self) -> FactualityItem:
        if (self.question is None) != (self.answer is None):
            raise ValueError("give both `question` and `answer`, or neither (then the model writes them)")
        return self


class FactualityConfig(PluginConfig):
    question_role: str = Field("policy", description="LLM role that writes questions (the paper: the policy)")
    judge_role: str = Field("judge", description="LLM role that judges answers matching cannot decide")
    snippet_min_chars: int = Field(200, ge=1)
    snippet_max_chars: int = Field(1200, ge=50)
    snippets_per_document: int = Field(1, ge=1)
    questions_per_snippet: int = Field(1, ge=1, le=10)
    question_attempts: int = Field(2, ge=1, description="asks again when no written question is usable")
    question_temperature: float = Field(0.7, ge=0)
    max_answer_words: int = Field(6, ge=1, description="reference answers longer than this are dropped")
    k: int = Field(6, ge=2, le=256, description="answers sampled per question, without the snippet")
    temperature: float = Field(1.0, ge=0)
    top_p: float = Field(1.0, gt=0, le=1)
    max_tokens: int = Field(128, ge=1)
    system_prompt: str | None = Field(None, description="system turn of the probe (and of the exported rows)")
    short_answer_words: int = Field(8, ge=1, description="answers up to this many words are matched, not judged")
    f1_correct: float = Field(0.8, gt=0, le=1, description="token F1 at which a short answer counts as correct")
    decline_patterns: list[str] = Field(default_factory=lambda: list(DEFAULT_DECLINE_PATTERNS))
    known_min_correct: float = Field(0.8, ge=0, le=1, description="share of correct answers that makes 'known'")
    unknown_max_correct: float = Field(0.0, ge=0, le=1, description="'unknown' allows at most this share correct")
    unknown_min_wrong: float = Field(0.6, ge=0, le=1,
                                     description="'unknown' needs at least this share informative but wrong")
    min_judged: float = Field(0.5, ge=0, le=1, description="share of answers that must be labelled to classify")
    refusal: Literal["policy", "template"] = Field(
        "policy", description="who writes the refusal of unknown questions; a policy refusal that is not "
        "recognised as one falls back to the template")
    refusal_instruction: str = Field(DEFAULT_REFUSAL_INSTRUCTION, description="prompt for the policy; {question}")
    refusal_template: str = Field(DEFAULT_REFUSAL_TEMPLATE, description="used as is; may contain {question}")
    pairs_per_question: int = Field(1, ge=0, description="DPO pairs per unknown or mixed question")
    judge_retries: int = Field(1, ge=0)
    judge_max_tokens: int = Field(256, ge=16, description="the judge answers with one short JSON object")

    @model_validator(mode="after")
    def _sizes(self) -> FactualityConfig:
        if self.snippet_min_chars > self.snippet_max_chars:
            raise ValueError("snippet_min_chars must not exceed snippet_max_chars")
        if "{question}" not in self.refusal_instruction:
            raise ValueError("refusal_instruction must contain {question}")
        return self


class FactualityGenerator(Generator):
    name: ClassVar[str] = "factuality"
    version: ClassVar[str] = "0.1"
    capability: ClassVar[str] = "factuality"
    Config: ClassVar[type[BaseModel]] = FactualityConfig
    Item: ClassVar[type[BaseModel]] = FactualityItem
    roles: ClassVar[tuple[str, ...]] = ("policy", "judge")

    def __init__(self, config: BaseModel | None = None) -> None:
        super().__init__(config)
        cfg: FactualityConfig = self.config
        self.declines = DeclineDetector(tuple(cfg.decline_patterns))
        self.judge = LLMJudgeVerifier(JudgeConfig(role=cfg.judge_role, rubric="factuality", threshold=1.0,
                                                  retries=cfg.judge_retries,
                                                  max_tokens=cfg.judge_max_tokens))

    def snippets(self, item: FactualityItem, ctx: Context) -> list[str]:
        cfg: FactualityConfig = self.config
        pieces = split_snippets(item.text, cfg.snippet_min_chars, cfg.snippet_max_chars)
        if item.question is not None or len(pieces) <= cfg.snippets_per_document:
            return pieces[:1] if item.question is not None else pieces
        stride = len(pieces) / cfg.snippets_per_document  # spread over the document, random phase
        offset = ctx.rng.random() * stride
        return [pieces[int(offset + i * stride)] for i in range(cfg.snippets_per_document)]

    async def generate(self, item: FactualityItem, ctx: Context) -> list[Record]:
        item_id = item.id or content_hash(item.text)
        groups = await asyncio.gather(*(self._snippet(item, item_id, i, s, ctx)
                                        for i, s in enumerate(self.snippets(item, ctx))))
        return [r for group in groups for r in group]

    async def _questions(self, item: FactualityItem, snippet: str, index: int,
                         ctx: Context) -> tuple[list[QA], list[str], int | None]:
        """Usable questions, reasons for the dropped ones, and how many writer outputs held no question
        (None when the writer said NONE: the snippet has no checkable fact)."""
        cfg: FactualityConfig = self.config
        if item.question is not None:
            qa = QA(item.question.strip(), str(item.answer).strip())
            problem = question_problem(qa, snippet, cfg.max_answer_words)
            return ([], [problem], 0) if problem else ([qa], [], 0)
        dropped: list[str] = []
        unparsed = 0
        prompt = question_prompt(snippet, item.title, cfg.questions_per_snippet, cfg.max_answer_words)
        for attempt in range(cfg.question_attempts):
            params = SamplingParams(temperature=cfg.question_temperature, max_tokens=160 * cfg.questions_per_snippet)
            (outs,) = await ctx.generate(cfg.question_role, [prompt], params, seed_key=("question", index, attempt))
            text = outs[0].text if outs else ""
            if says_none(text):
                return [], dropped, None
            written = parse_questions(text)
            if not written:
                unparsed += 1
                dropped.append("no question in the writer's output: " + " ".join(text.split())[:80])
            usable = []
            for qa in written:
                problem = question_problem(qa, snippet, cfg.max_answer_words)
                (dropped.append(f"{problem}: {qa.question[:80]!r}") if problem else usable.append(qa))
            if usable:
                return usable[: cfg.questions_per_snippet], dropped, unparsed
        return [], dropped, unparsed

    async def _snippet(self, item: FactualityItem, item_id: str, index: int, snippet: str,
                       ctx: Context) -> list[Record]:
        questions, dropped, unparsed = await self._questions(item, snippet, index, ctx)
        said_none = unparsed is None
        written = len(questions) + len(dropped) - (unparsed or 0)
        base_stages = {"snippets": 1, "questions_written": written, "questions_dropped": written - len(questions),
                       "question_outputs_unparsed": unparsed or 0}
        meta = {"snippet": snippet, "title": item.title, "topic": item.topic, "snippet_index": index}
        if not questions:
            reason = ("no checkable fact: the question writer found none in the snippet" if said_none else
                      "no checkable fact: no written question had its answer in the snippet"
                      + (f" ({'; '.join(dropped[:3])})" if dropped else ""))
            rec = failed_record(content_hash("failed", self.name, item_id, index), source_id=item_id,
                                capability=self.capability, error=reason,
                                provenance=ctx.provenance(roles=(self.config.question_role,), parents=[item_id]))
            rec.metadata = {**meta, "dropped_questions": dropped, "stages": base_stages}
            return [rec]
        records = await asyncio.gather(*(self._probe(qa, item_id, index, j, meta, ctx) for j, qa in enumerate(questions)))
        records[0].metadata["stages"].update(base_stages)
        records[0].metadata["dropped_questions"] = dropped
        return list(records)

    def _prompt(self, question: str) -> list[Message]:
        system = [{"role": "system", "content": self.config.system_prompt}] if self.config.system_prompt else []
        return system + [{"role": "user", "content": question}]

    async def _probe(self, qa: QA, item_id: str, index: int, j: int, meta: dict[str, Any], ctx: Context) -> Record:
        cfg: FactualityConfig = self.config
        messages = self._prompt(qa.question)
        params = SamplingParams(n=cfg.k, temperature=cfg.temperature, top_p=cfg.top_p, max_tokens=cfg.max_tokens)
        (answers,) = await ctx.generate("policy", [messages], params, seed_key=("answer", index, j))
        record = Record(id=content_hash(self.name, item_id, index, qa.question), capability=self.capability,
                        source_id=item_id, messages=messages,
                        metadata={**meta, "question": qa.question, "reference_answer": qa.answer},
                        provenance=ctx.provenance(roles=("policy", cfg.question_role, cfg.judge_role), params=params,
                                                  parents=[item_id]))
        for s, completion in enumerate(answers):
            record.add_candidate([{"role": "assistant", "content": completion.text}],
                                 metadata={"sample": s, "finish_reason": completion.finish_reason})
        labels: list[AnswerLabel] = list(await asyncio.gather(*(
            label_answer(self, record, c, qa, meta["snippet"], ctx) for c in record.candidates)))
        klass = classify([lab.label for lab in labels], cfg)
        counts = {lab_name: sum(lab.label == lab_name for lab in labels)
                  for lab_name in ("correct", "incorrect", "declined", "uninformative", "unjudged")}
        for cand, lab in zip(record.candidates, labels):
            ok = lab.label == "correct" or (lab.label == "declined" and klass in ("unknown", "declined"))
            score = (lab.score if lab.label == "correct" else 0.9) if ok else 0.0
            cand.metadata["label"] = lab.label
            cand.verdicts.append(Verdict(verifier=self.name, passed=ok, score=score if lab.label != "unjudged" else None,
                                         feedback=lab.feedback, details=lab.details))
        stages: dict[str, int] = {"questions": 1, "answers": len(labels), klass: 1,
                                  **{f"answers_{k}": v for k, v in counts.items()},
                                  "judged_by_match": sum(lab.method == "match" for lab in labels),
                                  "judged_by_judge": sum(lab.method == "judge" for lab in labels)}
        if klass == "unknown":
            refusal, written_by = await self._refusal(qa.question, [lab for lab in labels if lab.label == "incorrect"],
                                                      index, j, ctx)
            stages[f"refusals_{written_by}"] = 1
            cand = record.add_candidate([{"role": "assistant", "content": refusal}],
                                        metadata={"label": "refusal", "written_by": written_by})
            cand.verdicts.append(Verdict(verifier=self.name, passed=True, score=1.0,
                                         details={"label": "refusal", "written_by": written_by}))
            wrong = [c for c, lab in zip(record.candidates, labels) if lab.label == "incorrect"]
            record.pairs = [PreferencePair(chosen=cand.id, rejected=w.id, margin=1.0,
                                           reason="refusal over hallucination") for w in wrong[: cfg.pairs_per_question]]
        elif klass == "mixed":
            good = [c for c, lab in zip(record.candidates, labels) if lab.label == "correct"]
            bad = ([c for c, lab in zip(record.candidates, labels) if lab.label == "incorrect"]
                   + [c for c, lab in zip(record.candidates, labels) if lab.label in ("declined", "uninformative")])
            record.pairs = [PreferencePair(chosen=good[i % len(good)].id, rejected=b.id, margin=1.0,
                                           reason="correct over wrong") for i, b in enumerate(bad[: cfg.pairs_per_question])]
        record.metadata.update({"class": klass, "answer_counts": counts, "stages": stages})
        return record

    async def _refusal(self, question: str, wrong: list[AnswerLabel], index: int, j: int,
                       ctx: Context) -> tuple[str, str]:
        cfg: FactualityConfig = self.config
        template = cfg.refusal_template.replace("{question}", question)
        if cfg.refusal == "template":
            return template, "template"
        prompt = self._prompt(cfg.refusal_instruction.replace("{question}", question))
        (outs,) = await ctx.generate("policy", [prompt], SamplingParams(temperature=0.7, max_tokens=cfg.max_tokens),
                                     seed_key=("refusal", index, j))
        text = (outs[0].text if outs else "").strip()
        from generators.knowledge._matching import contains

        guesses = [w.text for w in wrong if w.text and len(w.text.split()) <= cfg.short_answer_words]
        if text and self.declines.declines(text) and not any(contains(text, g) for g in guesses):
            return text, "policy"
        return template, "template"
