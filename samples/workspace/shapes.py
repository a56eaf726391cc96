"""Areas and perimeters of a few plane shapes."""
import math


def circle_area(radius: float) -> float:
    return math.pi * radius * radius


def rectangle_area(width: float, height: float) -> float:
    return width * height


def rectangle_perimeter(width: float, height: float) -> float:
    
