"""A shopping cart over a catalog."""

from __future__ import annotations

from inventory.catalog import Catalog
from inventory.money import Money, total


class Cart:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.lines: dict[str, int] = {}

    def put(self, sku: str, quantity: int = 1) -> None:
        if sku not in self.catalog.products:
            raise KeyError(sku)
        self.lines[sku] = self.lines.get(sku, 0) + quantity

    def subtotal(self) -> Money:
        return total(self.catalog.price_of(sku).times(q) for sku, q in self.lines.items())
