"""
Reports: terminal summaries, report.md, report.json and PNG plots for every lab and experiment, and their statistics.

This is the only part of the harness that imports matplotlib (``files.pyplot``) or scipy (``statistics``); a node
process never imports it.
"""
