"""A small inventory and order book."""

from inventory.money import Money
from inventory.catalog import Catalog, Product

__all__ = ["Money", "Catalog", "Product"]
