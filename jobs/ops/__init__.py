"""Running the production shape on one machine: the embedded Airflow and the standalone
Spark cluster.
"""
