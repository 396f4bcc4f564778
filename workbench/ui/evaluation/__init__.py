"""Evaluation views: the scorecard with its drill-down, and the dataset table."""
