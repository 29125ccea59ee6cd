"""Every usage source, found in this package's modules (each exports ``SOURCES``).

Adding a source is adding a module here with a ``SOURCES`` tuple of
:class:`~costcouncil.usage.base.UsageSource`; the CLI's ``--source`` choices, the conformance
suite and the docs test all read :data:`REGISTRY`.
"""

from __future__ import annotations

import importlib
import pkgutil

from costcouncil.usage.base import UsageSource


def _discover() -> dict[str, UsageSource]:
    found: dict[str, UsageSource] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for source in getattr(module, "SOURCES", ()):
            found[source.name] = source
    return found


REGISTRY: dict[str, UsageSource] = _discover()

__all__ = ["REGISTRY", "UsageSource"]
