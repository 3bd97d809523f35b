"""One module per DAG task: `spark-submit jobs/stages/<stage>.py --week W`."""
