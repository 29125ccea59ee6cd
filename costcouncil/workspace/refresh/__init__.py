"""After the numbers change: forecasts refreshed, anomalies detected, people told."""
