"""Plane geometry helpers for a small CAD exporter."""

from __future__ import annotations

import math
from enum import Enum
from typing import Literal


class Unit(Enum):
    MILLIMETRE = "mm"
    CENTIMETRE = "cm"
    INCH = "in"


def circle_area(radius: float, precision: int = 2) -> float:
    """Area of a circle.

    Args:
        radius (float): radius of the circle, non-negative.
        precision (int): decimal places of the rounded result.

    Returns:
        float: the area, rounded.
    """
    if radius < 0:
        raise ValueError("radius must be non-negative")
    return round(math.pi * radius ** 2, precision)


def polygon_perimeter(sides: list[float]) -> float:
    """Perimeter of a polygon given the lengths of its sides.

    Args:
        sides (list[float]): length of each side, in order.
    """
    return float(sum(sides))


def convert_length(value: float, source: Unit, target: Unit = Unit.MILLIMETRE) -> float:
    """Convert a length between millimetres, centimetres and inches.

    Args:
        value: the length to convert.
        source: the unit of ``value``.
        target: the unit wanted.
    """
    to_mm = {"mm": 1.0, "cm": 10.0, "in": 25.4}
    src = source.value if isinstance(source, Unit) else source
    dst = target.value if isinstance(target, Unit) else target
    return round(value * to_mm[src] / to_mm[dst], 6)


def triangle_area(a: float, b: float, c: float, method: Literal["heron", "sss"] = "heron") -> float:
    """Area of a triangle from its three side lengths.

    Args:
        a: first side.
        b: second side.
        c: third side.
        method: formula to use.
    """
    s = (a + b + c) / 2
    return round(math.sqrt(max(s * (s - a) * (s - b) * (s - c), 0.0)), 6)


def _clamp(x: float) -> float:
    """Private helper: not offered as a tool."""
    return max(0.0, x)


def undocumented(x):
    return x


class Drawing:
    """A drawing that keeps shapes in memory."""

    def __init__(self) -> None:
        self.shapes: list[dict] = []

    def add_rectangle(self, width: float, height: float, label: str | None = None) -> int:
        """Add a rectangle to the drawing and return its index.

        Args:
            width: width in millimetres.
            height: height in millimetres.
            label (optional): a caption shown next to the shape.
        """
        self.shapes.append({"w": width, "h": height, "label": label})
        return len(self.shapes) - 1
