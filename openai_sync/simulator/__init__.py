"""A simulator of the OpenAI Platform API over real HTTP on loopback: tests, benchmarks, the demo."""

from .faults import KINDS as FAULT_KINDS
from .faults import Rule, parse_faults
from .server import Simulator
from .world import SIZES, World

__all__ = ["FAULT_KINDS", "SIZES", "Rule", "Simulator", "World", "parse_faults"]
