"""Infrastructure every layer uses: the typed config, weeks, the SparkSession factory,
table I/O, GX checks, run records.
"""
