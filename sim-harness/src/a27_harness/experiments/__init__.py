"""
Experiments: many seeded runs swept over settings, summarised into numbers a report can show.

``stake`` sweeps proof-of-stake cases and proposer strategies over Lab 2 runs; ``topology`` sends payments over
channel networks of different shapes.
"""
