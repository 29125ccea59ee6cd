"""Placeholder until the oci converter lands."""

from costcouncil.ingest.sources.base import Converter

CONVERTERS: tuple[Converter, ...] = ()
