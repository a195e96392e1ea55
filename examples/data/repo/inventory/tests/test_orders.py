import unittest

from inventory import Catalog
from inventory.cart import Cart
from inventory.money import Money
from inventory.orders import checkout
from inventory.reports import report


class OrderTest(unittest.TestCase):
    def test_checkout_and_report(self):
        catalog = Catalog()
        catalog.add("A1", "pen", "1.50")
        catalog.add("B2", "book", "12")
        cart = Cart(catalog)
        cart.put("A1", 2)
        cart.put("B2")
        order = checkout(cart, discount_rate=10)
        self.assertEqual(order.subtotal, Money(1500))
        self.assertEqual(order.due, Money(1350))
        self.assertIn("revenue: 13.50 EUR", report([order]))


if __name__ == "__main__":
    unittest.main()
