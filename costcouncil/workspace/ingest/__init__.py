"""Ingesting into the lake: cost files (FOCUS and cloud exports) and usage (jobs, LLM requests)."""
