import unittest

from inventory.money import Money, parse_price, total


class MoneyTest(unittest.TestCase):
    def test_parse(self):
        self.assertEqual(parse_price("12.5"), Money(1250))
        self.assertEqual(parse_price("3"), Money(300))
        self.assertEqual(parse_price("0.07"), Money(7))
        for bad in ("", "1.2.3", "abc", "-1"):
            with self.assertRaises(ValueError):
                parse_price(bad)

    def test_arithmetic_and_text(self):
        self.assertEqual(total([Money(5), Money(10)]), Money(15))
        self.assertEqual(Money(1999).percent(10), Money(200))
        self.assertEqual(str(Money(1205)), "12.05 EUR")
        self.assertEqual(str(Money(-5)), "-0.05 EUR")
        self.assertEqual(Money(250).times(3), Money(750))


if __name__ == "__main__":
    unittest.main()
