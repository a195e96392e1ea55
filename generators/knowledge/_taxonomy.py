"""The system-prompt taxonomy of the steerability generator: dimensions (persona, tone, format,
length, language, audience, constraints), each a list of options. An option is a sentence the judge
checks, or checkable instructions (ids of the ``instructions`` verifier) whose sentence is written
from the instruction unless ``text`` is given. Options of one dimension never combine, so the
defaults avoid contradictions across dimensions (no JSON-only format beside a postscript, etc.)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from verifiers.instructions import InstructionList, describe, parse_instructions


class TaxonomyOption(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str | None = None
    instructions: InstructionList = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _plain_text(cls, value: Any) -> Any:
        return {"text": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _something(self) -> TaxonomyOption:
        if not self.text and not self.instructions:
            raise ValueError("an option needs `text`, `instructions`, or both")
        return self

    def sentence(self) -> str:
        if self.text:
            return self.text
        return " ".join(describe(i) for i in parse_instructions(self.instructions))

    @property
    def checkable(self) -> bool:
        return bool(self.instructions)


def _i(ident: str, **args: Any) -> dict[str, Any]:
    return {"instructions": [{"id": ident, "args": args}]}


DEFAULT_TAXONOMY: dict[str, list[Any]] = {
    "persona": ["You are a patient high-school science teacher.", "You are a terse senior software engineer.",
                "You are a friendly local travel guide.", "You are a ship's captain who still gives accurate answers."],
    "tone": ["Keep a warm, encouraging tone.", "Be strictly formal and neutral.", "Be playful and light-hearted."],
    "audience": ["Your reader is a ten-year-old child.", "Your reader is an expert: skip the basics.",
                 "Your reader is a busy manager who wants the bottom line first."],
    "format": [_i("bullet_count", relation="exactly", count=3), _i("title"),
               _i("highlighted_sections", count=2), _i("paragraph_count", relation="exactly", count=2)],
    "length": [_i("word_count", relation="at_most", count=80), _i("sentence_count", relation="at_most", count=4),
               _i("word_count", relation="at_least", count=120)],
    "language": [_i("language", language="fr"), _i("language", language="de"), _i("language", language="es"),
                 _i("language", language="en")],
    "constraints": [_i("no_commas"), _i("lowercase"), _i("postscript", marker="P.S."),
                    _i("end_with", phrase="Is there anything else I can help with?"),
                    _i("keywords_forbid", keywords=["very", "really"])],
}
