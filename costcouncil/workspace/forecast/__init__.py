"""Forecast use cases: series from the workspace or a CSV file, forecasts written back."""
