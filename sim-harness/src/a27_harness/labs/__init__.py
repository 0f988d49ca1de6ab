"""
The labs: whole simulated runs of a layer stack, each ending in a verdict.

Lab 1 runs the ledger alone, Lab 2 adds proof of stake, Lab 3 payment channels. What they share is in ``common``;
no lab imports another lab.
"""

from .lab1 import Lab1Result, run_lab1
from .lab2 import Lab2Result, run_lab2
from .lab3 import Lab3Result, run_lab3

__all__ = ["Lab1Result", "Lab2Result", "Lab3Result", "run_lab1", "run_lab2", "run_lab3"]
