"""Placeholder until the azure converter lands."""

from costcouncil.ingest.sources.base import Converter

CONVERTERS: tuple[Converter, ...] = ()
