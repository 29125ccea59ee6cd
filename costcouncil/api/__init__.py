"""The HTTP API (FastAPI): live usage events in, live cost figures out."""
