"""What reads a finished week: the run report, the summary, the downstream consumer. Reads
tables; runs no stage.
"""
