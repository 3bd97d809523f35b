"""The command line and what it runs: the in-process weekly runner, bench, offline
evaluation, simulation.
"""
