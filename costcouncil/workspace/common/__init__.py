"""Shared by every use case: reading the lake (views, latest usage, allocation files) and day bounds."""
