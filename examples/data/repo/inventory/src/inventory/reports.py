"""Plain-text reports of orders."""

from __future__ import annotations

from inventory.money import Money, total
from inventory.orders import Order


def revenue(orders: list[Order]) -> Money:
    return total(order.due for order in orders)


def report(orders: list[Order]) -> str:
    lines = [f"order {i + 1}: {order.due}" for i, order in enumerate(orders)]
    return "\n".join(lines + [f"revenue: {revenue(orders)}"])
