"""Anomaly use cases: monitors, detection runs, feedback, and the series-CSV detector."""
