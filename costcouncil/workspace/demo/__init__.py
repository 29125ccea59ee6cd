"""The demo organisation end to end: generate, ingest, allocate, create users."""
