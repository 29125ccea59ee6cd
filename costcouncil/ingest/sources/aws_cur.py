"""Placeholder until the aws_cur converter lands."""

from costcouncil.ingest.sources.base import Converter

CONVERTERS: tuple[Converter, ...] = ()
