"""Every cost source CostCouncil reads, as declared converters (see ``base.Converter``).

Adding a source is adding a module here with a ``CONVERTERS`` tuple and listing it below; ingest,
detection, the CLI's ``--format`` choices and the docs test all read :data:`REGISTRY`.
"""

from __future__ import annotations

from costcouncil.ingest.sources import aws_cur, azure, focus, gcp, oci
from costcouncil.ingest.sources.base import Converter

REGISTRY: dict[str, Converter] = {
    c.name: c for module in (focus, aws_cur, azure, oci, gcp) for c in module.CONVERTERS
}

__all__ = ["REGISTRY", "Converter"]
