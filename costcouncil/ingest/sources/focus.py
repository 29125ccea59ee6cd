"""FOCUS files (1.0, 1.1, 1.2 and 1.3) as sources: an identity mapping that upgrades to 1.2.

Columns a version did not have yet are NULL after the upgrade; 1.3's new columns are kept. A 1.3
file that carries ``ServiceProviderName`` but not the deprecated ``ProviderName`` (or
``HostProviderName`` without ``PublisherName``) has those filled from the new columns.
"""

from __future__ import annotations

from costcouncil.ingest.sources.base import Converter, Expression, col
from costcouncil.schema.focus import FOCUS_1_2, FOCUS_1_3_EXTRAS, columns_of

#: Header columns that first appear in each version, used to tell versions apart.
_INTRODUCED = {
    "1.3": frozenset({"ServiceProviderName"}),
    "1.2": frozenset({"BillingAccountType"}),
    "1.1": frozenset({"CommitmentDiscountQuantity"}),
    "1.0": frozenset({"BilledCost", "ChargeCategory", "BillingPeriodStart"}),
}


def _columns(version: str) -> dict[str, Expression]:
    mapping: dict[str, Expression] = {c.name: col(c.name) for c in columns_of(version)}
    if version == "1.3":
        mapping["ProviderName"] = (col("ProviderName"), col("ServiceProviderName"))
        mapping["PublisherName"] = (
            col("PublisherName"),
            col("HostProviderName"),
            col("ServiceProviderName"),
        )
    return mapping


def _converter(version: str, priority: int) -> Converter:
    signature = _INTRODUCED["1.0"] | _INTRODUCED.get(version, frozenset())
    if version == "1.3":
        signature = _INTRODUCED["1.0"] - {"ChargeCategory"} | _INTRODUCED["1.3"]
    return Converter(
        name=f"focus-{version}",
        title=f"FOCUS {version}",
        provider="",
        signature=signature,
        columns=_columns(version),
        source_cost=col("BilledCost"),
        source_currency=col("BillingCurrency"),
        priority=priority,
    )


CONVERTERS = tuple(_converter(v, 100 + i) for i, v in enumerate(("1.0", "1.1", "1.2", "1.3")))

__all__ = ["CONVERTERS", "FOCUS_1_2", "FOCUS_1_3_EXTRAS"]
