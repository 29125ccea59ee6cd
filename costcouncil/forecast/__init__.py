"""Forecasts of cost series: point forecasts with 80 % and 95 % prediction intervals, the method
chosen per series by a rolling-origin backtest (docs/forecast.md)."""
