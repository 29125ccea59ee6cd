"""Anomaly detection on cost and usage series, and root causes in AI terms (docs/anomalies.md)."""
