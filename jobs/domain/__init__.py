"""The maths and the rules: matrices, metrics, retrieval and ranking passes, listener
controls. Imports only jobs.core.
"""
