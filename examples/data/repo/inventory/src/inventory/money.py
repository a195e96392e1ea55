"""Amounts of money in integer cents, so sums never drift."""

from __future__ import annotations

from dataclasses import dataclass

CURRENCY = "EUR"


@dataclass(frozen=True, order=True)
class Money:
    cents: int

    def __add__(self, other: "Money") -> "Money":
        return Money(self.cents + other.cents)

    def __sub__(self, other: "Money") -> "Money":
        return Money(self.cents - other.cents)

    def times(self, quantity: int) -> "Money":
        return Money(self.cents * quantity)

    def percent(self, rate: float) -> "Money":
        return Money(round(self.cents * rate / 100))

    def __str__(self) -> str:
        sign = "-" if self.cents < 0 else ""
        return f"{sign}{abs(self.cents) // 100}.{abs(self.cents) % 100:02d} {CURRENCY}"


ZERO = Money(0)


def parse_price(text: str) -> Money:
    """'12.5' -> Money(1250); '3' -> Money(300). Raises ValueError on anything else."""
    text = text.strip()
    if not text or text.count(".") > 1 or not text.replace(".", "").isdigit():
        raise ValueError(f"not a price: {text!r}")
    whole, _, frac = text.partition(".")
    return Money(int(whole) * 100 + int((frac + "00")[:2]))


def total(amounts) -> Money:
    result = ZERO
    for amount in amounts:
        result = result + amount
    return result
