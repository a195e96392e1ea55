"""Orders: a cart checked out with its discount."""

from __future__ import annotations

from dataclasses import dataclass

from inventory.cart import Cart
from inventory.discounts import percent_off
from inventory.money import Money


@dataclass
class Order:
    subtotal: Money
    discount: Money

    @property
    def due(self) -> Money:
        return self.subtotal - self.discount


def checkout(cart: Cart, discount_rate: float = 0.0) -> Order:
    subtotal = cart.subtotal()
    return Order(subtotal, percent_off(subtotal, discount_rate))
