"""Placeholder until the gcp converter lands."""

from costcouncil.ingest.sources.base import Converter

CONVERTERS: tuple[Converter, ...] = ()
