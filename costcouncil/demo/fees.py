"""Monthly rows that are not metered usage: commitment fees, the support plan, credits.

Commitment fees are the amortised cost of the covered usage rows of the period (so, for every
commitment, its recurring fee equals the EffectiveCost its usage rows carry). Support is AWS
Business Support's tiered percentage of the period's AWS charges. Fees are priced purchases as
FOCUS wants them (SKU, unit prices, quantity; for commitments the CommitmentDiscountQuantity
covered); credits are unrelated to other charges, so their list and contracted costs are their
billed cost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

import pyarrow as pa

from costcouncil.demo.apps import api_columns
from costcouncil.demo.catalog import AWS_ACCOUNTS, REGIONS
from costcouncil.demo.fleet import Commitment, aws_columns, sku
from costcouncil.demo.spec import HOUR_US, Period, epoch_us
from costcouncil.schema.arrow import focus_schema

if TYPE_CHECKING:
    from costcouncil.demo.plan import Plan

Row = dict[str, object]
_UNIT = Decimal(10) ** -10
#: AWS Business Support: (upper bound of the tier in $, rate).
_SUPPORT_TIERS = ((10_000, "0.10"), (80_000, "0.07"), (250_000, "0.05"), (10**12, "0.03"))
CREDIT_PERIODS = 3


@dataclass
class Running:
    """What the usage rows of one provider and period add up to (fee rows are derived from it)."""

    billed: int = 0
    commitment_cost: dict[int, int] = field(default_factory=dict)
    commitment_hours: dict[int, int] = field(default_factory=dict)


def support_fee(charges: Decimal) -> Decimal:
    """Business Support for a month with ``charges`` dollars of AWS charges (at least $100)."""
    fee, lower = Decimal(0), Decimal(0)
    for upper, rate in _SUPPORT_TIERS:
        fee += max(Decimal(0), min(charges, Decimal(upper)) - lower) * Decimal(rate)
        lower = Decimal(upper)
    return max(fee, Decimal(100)).quantize(Decimal("0.01"))


def _common(plan: Plan, period: Period, provider: str) -> Row:
    origin = epoch_us(plan.spec.start)
    start, end = origin + period.start_hour * HOUR_US, origin + period.end_hour * HOUR_US
    return {
        "BillingPeriodStart": start,
        "BillingPeriodEnd": end,
        "ChargePeriodStart": start,
        "ChargePeriodEnd": end,
        "InvoiceId": f"INV-{provider.upper()}-{period.label}",
    }


def _prices(price: Decimal) -> Row:
    """The four unit-price columns of a priced row (USD is both billing and pricing currency)."""
    return {
        "ListUnitPrice": price,
        "ContractedUnitPrice": price,
        "PricingCurrencyListUnitPrice": price,
        "PricingCurrencyContractedUnitPrice": price,
    }


def _commitment_row(c: Commitment, cost: Decimal, hours: int) -> Row:
    """The recurring fee of a commitment: the hours (RI) or dollars (SP) it covered."""
    ri = c.category == "Usage"
    account = c.id.split(":")[4]
    env = next(env for env, (ident, _) in AWS_ACCOUNTS.items() if ident == account)
    quantity = Decimal(hours) if ri else cost
    return (
        aws_columns(env, "us-east-1", "")
        | c.sku
        | _prices((cost / quantity).quantize(_UNIT))
        | {
            "AvailabilityZone": None,
            "RegionId": c.region,
            "RegionName": REGIONS[c.region] if c.region else None,
            "ChargeCategory": "Purchase",
            "ChargeFrequency": "Recurring",
            "ChargeDescription": f"{c.type} recurring fee (1 yr, No Upfront): {c.name}",
            "ServiceName": "Amazon Elastic Compute Cloud"
            if ri
            else "Savings Plans for AWS Compute usage",
            "ServiceCategory": "Compute",
            "ServiceSubcategory": "Virtual Machines",
            "CommitmentDiscountId": c.id,
            "CommitmentDiscountName": c.name,
            "CommitmentDiscountCategory": c.category,
            "CommitmentDiscountType": c.type,
            "CommitmentDiscountUnit": c.unit,
            "CommitmentDiscountQuantity": quantity,
            "ResourceId": c.id,
            "ResourceType": c.type,
            "PricingQuantity": quantity,
            "PricingUnit": c.unit,
            "BilledCost": cost,
            "ListCost": cost,
            "ContractedCost": cost,
            "EffectiveCost": Decimal(0),
        }
    )


def _aws_row(kind: str, amount: Decimal) -> Row:
    """The month's support fee (a priced purchase) or an AWS credit (unrelated to other rows:
    its list and contracted costs are its billed cost)."""
    support = kind == "support"
    priced = (sku("AWSSupportBusiness", "Business") | _prices(amount)) if support else {}
    return (
        aws_columns("prod", "us-east-1", "")
        | priced
        | {
            "AvailabilityZone": None,
            "RegionId": None,
            "RegionName": None,
            "ChargeCategory": "Purchase" if support else "Credit",
            "ChargeFrequency": "Recurring" if support else "One-Time",
            "ChargeDescription": "AWS Support (Business)" if support else "AWS Activate credit",
            "PricingCategory": "Standard" if support else None,
            "ServiceName": "AWS Support (Business)" if support else "Amazon Elastic Compute Cloud",
            "ServiceCategory": "Management and Governance" if support else "Compute",
            "ServiceSubcategory": "Support" if support else "Virtual Machines",
            "PricingQuantity": Decimal(1) if support else None,
            "PricingUnit": "Months" if support else None,
            "BilledCost": amount,
            "ListCost": amount,
            "ContractedCost": amount,
            "EffectiveCost": amount,
        }
    )


def _aws_rows(plan: Plan, period: Period, running: Running) -> list[Row]:
    rows = []
    fees = Decimal(0)
    for c in plan.commitments:
        cost = running.commitment_cost.get(c.index, 0) * _UNIT
        if cost:
            rows.append(_commitment_row(c, cost, running.commitment_hours[c.index]))
            fees += cost
    charges = running.billed * _UNIT + fees
    rows.append(_aws_row("support", support_fee(charges)))
    if plan.periods.index(period) < CREDIT_PERIODS:
        credit = min(charges * Decimal("0.1"), Decimal(25_000)).quantize(Decimal("0.01"))
        if credit:
            rows.append(_aws_row("credit", -credit))
    return rows


def _openai_credit(plan: Plan, period: Period, running: Running) -> list[Row]:
    first = min(a.start for a in plan.apps if a.provider == "openai")
    if not period.start_day <= first < period.end_day:
        return []
    app = next(a for a in plan.apps if a.provider == "openai")
    amount = min(running.billed * _UNIT, Decimal(500)).quantize(Decimal("0.01"))
    return [
        api_columns(app)
        | {
            "ChargeCategory": "Credit",
            "ChargeFrequency": "One-Time",
            "PricingCategory": None,
            "ResourceType": None,
            "ChargeDescription": "Promotional API credit",
            "ServiceCategory": "AI and Machine Learning",
            "ServiceSubcategory": "Generative AI",
            "BilledCost": -amount,
            "EffectiveCost": -amount,
            "ListCost": -amount,
            "ContractedCost": -amount,
        }
    ]


def fee_batch(plan: Plan, provider: str, period: Period, running: Running) -> pa.RecordBatch | None:
    """The non-usage rows of ``provider`` for ``period``, or None when it has none."""
    if provider == "aws":
        rows = _aws_rows(plan, period, running)
    elif provider == "openai":
        rows = _openai_credit(plan, period, running)
    else:
        rows = []
    if not rows:
        return None
    schema = focus_schema(with_source=False)
    rows = [_common(plan, period, provider) | r for r in rows]
    for r in rows:
        r.setdefault("PricingCurrencyEffectiveCost", r["EffectiveCost"])
    data = {f.name: [r.get(f.name) for r in rows] for f in schema}
    return pa.RecordBatch.from_pydict(data, schema=schema)
