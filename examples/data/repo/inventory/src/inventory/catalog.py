"""Products and their prices."""

from __future__ import annotations

from dataclasses import dataclass, field

from inventory.money import Money, parse_price


@dataclass
class Product:
    sku: str
    name: str
    price: Money


@dataclass
class Catalog:
    products: dict[str, Product] = field(default_factory=dict)

    def add(self, sku: str, name: str, price: str) -> Product:
        product = Product(sku, name, parse_price(price))
        self.products[sku] = product
        return product

    def price_of(self, sku: str) -> Money:
        return self.products[sku].price
