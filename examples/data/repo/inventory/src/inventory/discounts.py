"""Discount rules applied to a subtotal."""

from __future__ import annotations

from inventory.money import ZERO, Money


def percent_off(subtotal: Money, rate: float) -> Money:
    return subtotal.percent(rate)


def threshold_off(subtotal: Money, threshold: Money, amount: Money) -> Money:
    return amount if subtotal >= threshold else ZERO
