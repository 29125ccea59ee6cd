"""Live usage: the event log, live pricing and totals, jobs from events, OTLP traces, /v1/live/costs."""
