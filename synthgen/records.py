"""Records, candidates, verdicts and provenance: the unit of data that flows through a run.

A :class:`Record` is one prompt (``messages``, in the OpenAI/TRL chat form, tool calls included)
with K :class:`Candidate` responses. Verifiers attach :class:`Verdict` objects to candidates; the
selection stage marks the chosen candidate and preference pairs; exports turn records into TRL's
canonical SFT / DPO / RM rows.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

Message = dict[str, Any]
"""One chat message: ``{"role": ..., "content": ...}`` plus optional ``tool_calls`` / ``tool_call_id``."""


def content_hash(*parts: Any, length: int = 16) -> str:
    """Stable hex id of JSON-serialisable parts (key order independent)."""
    blob = orjson.dumps(list(parts), option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    return hashlib.blake2b(blob, digest_size=length // 2).hexdigest()


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=False)


class Verdict(_Model):
    """One verifier's judgement of one candidate.

    ``feedback`` is text a model can act on in a correction turn (compiler error, failing assertion
    with expected and actual values, linter message with its line); ``details`` is structured data.
    """

    verifier: str
    passed: bool
    score: float | None = None
    feedback: str = ""
    details: dict[str, Any] = Field(default_factory=dict)


class Provenance(_Model):
    """Where a record or candidate came from."""

    generator: str = ""
    generator_version: str = ""
    models: dict[str, str] = Field(default_factory=dict)  # role -> model name
    sampling: dict[str, Any] = Field(default_factory=dict)
    seed: int | None = None
    round: int = 0
    parents: list[str] = Field(default_factory=list)  # ids of source items / records / candidates
    run: str = ""


class Candidate(_Model):
    """One response to a record's prompt: the assistant turns (and tool turns) that follow it."""

    id: str = ""
    messages: list[Message] = Field(default_factory=list)
    verdicts: list[Verdict] = Field(default_factory=list)
    scores: dict[str, float] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    provenance: Provenance | None = None

    @property
    def text(self) -> str:
        """Content of the last assistant message ('' if none)."""
        for msg in reversed(self.messages):
            if msg.get("role") == "assistant":
                return msg.get("content") or ""
        return ""

    @property
    def passed(self) -> bool:
        """True when the candidate has verdicts and they pass: every one, or the weighted chain's."""
        # one loop, no calls: selection, tallies and stats ask this of every candidate
        verdicts = self.verdicts
        every = True
        for v in verdicts:
            if v.verifier == "chain":
                return v.passed
            every = every and v.passed
        return every and bool(verdicts)

    @staticmethod
    def stored_passed(stored: dict) -> bool:
        """:attr:`passed` of a candidate in its stored form (``Record.to_json``'s dict, defaults left
        out): summaries and exports read the stored lines without building models."""
        verdicts = stored.get("verdicts") or ()
        every = True
        for v in verdicts:
            if v["verifier"] == "chain":
                return v["passed"]
            every = every and v["passed"]
        return every and bool(verdicts)

    def verdict(self, verifier: str) -> Verdict | None:
        for v in self.verdicts:
            if v.verifier == verifier:
                return v
        return None


class PreferencePair(_Model):
    chosen: str  # candidate id
    rejected: str
    margin: float | None = None
    reason: str = ""


class Record(_Model):
    """One prompt and its candidates, with everything needed to audit how it was made."""

    id: str
    capability: str = ""
    source_id: str = ""
    messages: list[Message] = Field(default_factory=list)  # the prompt dialog
    candidates: list[Candidate] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    verdicts: list[Verdict] = Field(default_factory=list)  # record-level checks (e.g. the prompt itself)
    scores: dict[str, float] = Field(default_factory=dict)
    provenance: Provenance = Field(default_factory=Provenance)
    status: Literal["ok", "failed"] = "ok"
    error: str = ""  # reason, when status == "failed"
    selected: list[str] = Field(default_factory=list)  # candidate ids kept for SFT, best first
    pairs: list[PreferencePair] = Field(default_factory=list)
    ranking: list[str] = Field(default_factory=list)  # candidate ids, best first (RM rows)

    def add_candidate(self, messages: list[Message], **fields: Any) -> Candidate:
        """Append a candidate with a stable id derived from the record id, its index and content."""
        cand = Candidate(id=content_hash(self.id, len(self.candidates), messages), messages=messages, **fields)
        self.candidates.append(cand)
        return cand

    def candidate(self, candidate_id: str) -> Candidate:
        for c in self.candidates:
            if c.id == candidate_id:
                return c
        raise KeyError(f"record {self.id} has no candidate {candidate_id}")

    @property
    def passing(self) -> list[Candidate]:
        return [c for c in self.candidates if c.passed]

    def to_json(self) -> bytes:
        # the serializer itself: model_dump's wrapper costs a fifth of this on a small record
        data = self.__pydantic_serializer__.to_python(self, mode="json", exclude_defaults=True)
        return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)

    def stored(self) -> dict:
        """The record as its stored line holds it (what summaries and exports read)."""
        return orjson.loads(self.to_json())

    @classmethod
    def from_json(cls, data: bytes | str | dict) -> "Record":
        if isinstance(data, dict):
            return cls.model_validate(data)
        return cls.model_validate(orjson.loads(data))


def stored_form(record: "dict | Record") -> dict:
    """A record as its stored line holds it: a Record is turned into that dict, a dict is returned."""
    return record.stored() if isinstance(record, Record) else record


def failed_record(record_id: str, *, source_id: str, capability: str, error: str,
                  provenance: Provenance | None = None, messages: list[Message] | None = None) -> Record:
    """A record that stands for work that failed persistently: kept, never dropped, with its reason."""
    return Record(id=record_id, source_id=source_id, capability=capability, status="failed", error=error,
                  provenance=provenance or Provenance(), messages=messages or [])
