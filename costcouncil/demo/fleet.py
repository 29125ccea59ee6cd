"""The AWS side of the plan: GPU instances, shared cluster nodes, SageMaker endpoints, S3
buckets and data transfer, each a stream with owner tags (some messy) and, for part of the
GPU fleet, a reserved instance or savings plan commitment."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace

import numpy as np

from costcouncil.demo.arrays import money_units
from costcouncil.demo.catalog import (
    AWS_ACCOUNTS,
    INSTANCES,
    PLATFORM,
    PROVIDERS,
    REGIONS,
    ROLE_TYPES,
    S3_GB_MONTH,
    TEAMS,
    TRANSFER_GB,
    Instance,
    Owner,
)
from costcouncil.demo.streams import (
    Q_HOURS,
    Q_STORAGE,
    Q_TRANSFER,
    Stream,
    hex_id,
    messy_tags,
    owner_tags,
    tag_state,
    windows,
)


@dataclass(frozen=True)
class Commitment:
    """A reserved instance (``Usage``) or a compute savings plan (``Spend``)."""

    index: int
    id: str
    name: str
    category: str
    type: str
    unit: str
    region: str | None
    sku: dict[str, str | None]


@dataclass
class Fleet:
    """Builds AWS streams; owns the commitment registry they share."""

    seed: int
    rng: np.random.Generator
    commitments: dict[str, Commitment] = field(default_factory=dict)
    streams: list[Stream] = field(default_factory=list)

    def commitment(self, key: str, account: str, region: str | None, inst: str) -> Commitment:
        """The commitment for ``key``: an RI for ``inst`` in ``region``, or a savings plan
        when ``region`` is None."""
        if key not in self.commitments:
            self.commitments[key] = self._new_commitment(key, account, region, inst)
        return self.commitments[key]

    def _new_commitment(self, key: str, account: str, region: str | None, inst: str) -> Commitment:
        n, ident = len(self.commitments), hex_id(self.seed, "commitment", key)
        if region is None:
            arn = f"arn:aws:savingsplans::{account}:savingsplan/{ident}"
            plan = sku("ComputeSavingsPlans", "1yr", "No Upfront", term=RESERVED_TERM)
            return Commitment(
                n, arn, f"Compute SP {key}", "Spend", "Compute Savings Plan", "USD", None, plan
            )
        arn = f"arn:aws:ec2:{region}:{account}:reserved-instances/{ident}"
        reserved = sku(inst, region, term=RESERVED_TERM)
        return Commitment(
            n, arn, f"RI {key}", "Usage", "Reserved Instance", "Hours", region, reserved
        )


def aws_columns(env: str, region: str, az: str) -> dict[str, str | None]:
    aws = PROVIDERS["aws"]
    account, account_name = AWS_ACCOUNTS[env]
    return {
        "BillingAccountId": aws.account_id,
        "BillingAccountName": aws.account_name,
        "BillingAccountType": aws.account_type,
        "BillingCurrency": "USD",
        "PricingCurrency": "USD",
        "ChargeCategory": "Usage",
        "ChargeFrequency": "Usage-Based",
        "PricingCategory": "Standard",
        "InvoiceIssuerName": aws.issuer,
        "ProviderName": aws.name,
        "PublisherName": aws.publisher,
        "RegionId": region,
        "RegionName": REGIONS[region],
        "AvailabilityZone": az,
        "SubAccountId": account,
        "SubAccountName": account_name,
        "SubAccountType": "Member Account",
    }


#: AWS offer term codes: on demand, and the 1-year No Upfront reserved term.
ON_DEMAND_TERM, RESERVED_TERM = "JRTCKXETXF", "4NA7Y494T4"


def sku(*parts: str, term: str = ON_DEMAND_TERM) -> dict[str, str | None]:
    """An AWS-style ``SkuId`` for ``parts`` and its ``SkuPriceId`` under the offer ``term``."""
    ident = hex_id(0, *parts, size=8).upper()
    return {"SkuId": ident, "SkuPriceId": f"{ident}.{term}.6YS6EN2CT7"}


def _machine_columns(inst: Instance, role: str) -> dict[str, str | None]:
    sagemaker = inst.name.startswith("ml.")
    service = "Amazon SageMaker" if sagemaker else "Amazon Elastic Compute Cloud"
    details = {"x_InstanceType": inst.name, "x_Accelerator": inst.accelerator}
    return {
        "ServiceName": service,
        "ServiceCategory": "AI and Machine Learning" if sagemaker else "Compute",
        "ServiceSubcategory": "Machine Learning" if sagemaker else "Virtual Machines",
        "ChargeDescription": f"${inst.on_demand} per On Demand Linux {inst.name} Instance Hour",
        "PricingUnit": "Hours",
        "ConsumedUnit": "Hours",
        "SkuMeter": "Hosting" if sagemaker else "BoxUsage",
        "SkuPriceDetails": json.dumps(details | {"x_AcceleratorCount": inst.accelerator_count}),
        "ResourceType": "Endpoint" if sagemaker else "Node" if role == "node" else "Instance",
    }


def _resource_id(fleet: Fleet, role: str, n: int, account: str, region: str, owner: Owner) -> str:
    if role == "node":
        return f"arn:aws:eks:{region}:{account}:node/gpu-pool-{n:02d}"
    if role == "endpoint":
        return (
            f"arn:aws:sagemaker:{region}:{account}:endpoint/{owner.model}-{owner.environment}-{n}"
        )
    return "i-0" + hex_id(fleet.seed, "instance", role, n)[:16]


def add_machine(
    fleet: Fleet, role: str, n: int, window: tuple[int, int], owner: Owner, inst: Instance
) -> Stream:
    """One instance, cluster node or endpoint: an hourly stream.

    The first instance is always mis-tagged, so that every demo has one.
    """
    u = fleet.rng.uniform(size=3)
    region = "us-east-1" if u[0] < 0.75 else "us-west-2"
    env = "platform" if role == "node" else owner.environment
    rid = _resource_id(fleet, role, n, AWS_ACCOUNTS[env][0], region, owner)
    extra = {"shared": "true"} if role == "node" else None
    state = "clean" if role in ("runaway", "idle") else tag_state(u[1])
    state = "mistagged" if n == 0 and role in ("training", "inference", "notebook") else state
    columns = aws_columns(env, region, region + "abc"[int(u[2] * 3)])
    columns |= _machine_columns(inst, role) | sku(inst.name, region)
    columns |= {"ResourceId": rid, "ResourceName": rid.rsplit("/", 1)[-1]}
    columns["Tags"] = messy_tags(owner_tags(owner, extra), state, u[1] * 10 % 1)
    stream = Stream(
        "aws",
        role,
        1,
        window[0],
        window[1],
        Q_HOURS,
        1.0,
        money_units(inst.on_demand),
        columns,
        owner=owner,
        tag_state=state,
        instance=inst.name,
        role=role,
    )
    return _commit(fleet, stream, inst, env, region)


def _commit(fleet: Fleet, stream: Stream, inst: Instance, env: str, region: str) -> Stream:
    """Cover part of the fleet: 60 % of cluster nodes by RIs, 40 % of prod instances by an SP."""
    u = fleet.rng.uniform()
    node = stream.role == "node" and (u < 0.6 or stream.columns["ResourceName"] == "gpu-pool-00")
    prod = stream.role in ("training", "inference") and env == "prod" and u < 0.4
    if inst.reserved is None or not (node or prod):
        return stream
    account = AWS_ACCOUNTS[env][0]
    key = f"{inst.name} {region} {env}" if node else f"{account}"
    c = fleet.commitment(key, account, region if node else None, inst.name)
    columns = stream.columns | {
        "PricingCategory": "Committed",
        "CommitmentDiscountId": c.id,
        "CommitmentDiscountName": c.name,
        "CommitmentDiscountCategory": c.category,
        "CommitmentDiscountType": c.type,
        "CommitmentDiscountStatus": "Used",
        "CommitmentDiscountUnit": c.unit,
    }
    eff = money_units(inst.reserved)
    return replace(stream, columns=columns, eff_price=eff, commitment=c.index)


def _owner(fleet: Fleet) -> Owner:
    return TEAMS[int(fleet.rng.integers(len(TEAMS)))]


def add_machines(fleet: Fleet, role: str, budget: float, span: int) -> None:
    """Hourly machines of one role whose hours add up to about ``budget``."""
    start, stop = windows(fleet.rng, budget, span, 1)
    types = ROLE_TYPES["training"] + ROLE_TYPES["inference"] + ROLE_TYPES["notebook"]
    roles = ("training",) * 5 + ("inference",) * 5 + ("notebook",) * 3
    for i in range(start.size):
        owner = PLATFORM if role == "node" else _owner(fleet)
        if role in ("node", "endpoint"):
            name, kind = ROLE_TYPES[role][int(fleet.rng.integers(len(ROLE_TYPES[role])))], role
            name = ROLE_TYPES[role][0] if i == 0 else name
        else:
            k = int(fleet.rng.integers(len(types)))
            name, kind = types[k], roles[k]
        window = (int(start[i]), int(stop[i]))
        fleet.streams.append(add_machine(fleet, kind, i, window, owner, INSTANCES[name]))


def _daily(fleet: Fleet, group: str, i: int, window: tuple[int, int], owner: Owner) -> Stream:
    """A bucket or NAT gateway: a daily stream. The first bucket is always untagged."""
    u = fleet.rng.uniform(size=3)
    state = "untagged" if (group, i) == ("bucket", 0) else tag_state(u[0])
    region = "us-east-1" if u[1] < 0.8 else "us-west-2"
    columns = aws_columns(owner.environment, region, "") | {"AvailabilityZone": None}
    columns["Tags"] = messy_tags(owner_tags(owner), state, u[0] * 10 % 1)
    account = AWS_ACCOUNTS[owner.environment][0]
    if group == "bucket":
        purpose = ("datasets", "checkpoints")[int(u[2] * 2)]
        name = f"acme-{owner.team}-{owner.project}-{purpose}-{i}"
        columns |= _bucket_columns(name) | sku("s3", region)
        base, kind, price = float(np.exp(fleet.rng.uniform(7.0, 11.5))), Q_STORAGE, S3_GB_MONTH
    else:
        where = ("internet", "inter-region")[int(u[2] * 2)]
        rid = f"arn:aws:ec2:{region}:{account}:natgateway/nat-{hex_id(fleet.seed, 'nat', i)[:17]}"
        columns |= _transfer_columns(rid, where) | sku("transfer", where, region)
        base, kind, price = (
            float(np.exp(fleet.rng.uniform(2.0, 6.5))),
            Q_TRANSFER,
            TRANSFER_GB[where],
        )
    return Stream(
        "aws",
        group,
        24,
        window[0],
        window[1],
        kind,
        base,
        money_units(price),
        columns,
        owner=owner,
        tag_state=state,
        role=group,
    )


def _bucket_columns(name: str) -> dict[str, str | None]:
    return {
        "ServiceName": "Amazon Simple Storage Service",
        "ServiceCategory": "Storage",
        "ServiceSubcategory": "Object Storage",
        "ChargeDescription": f"${S3_GB_MONTH} per GB - first 50 TB / month of storage used",
        "PricingUnit": "GB-Month",
        "ConsumedUnit": "GB-Month",
        "SkuMeter": "TimedStorage-ByteHrs",
        "ResourceId": f"arn:aws:s3:::{name}",
        "ResourceName": name,
        "ResourceType": "Bucket",
    }


def _transfer_columns(rid: str, where: str) -> dict[str, str | None]:
    return {
        "ServiceName": "AWS Data Transfer",
        "ServiceCategory": "Networking",
        "ServiceSubcategory": "Network Connectivity",
        "ChargeDescription": f"${TRANSFER_GB[where]} per GB - data transfer {where}",
        "PricingUnit": "GB",
        "ConsumedUnit": "GB",
        "SkuMeter": f"DataTransfer-{where}",
        "ResourceId": rid,
        "ResourceName": rid.rsplit("/", 1)[-1],
        "ResourceType": "NAT Gateway",
    }


def add_daily(fleet: Fleet, group: str, budget: float, days: int) -> None:
    """S3 buckets (``bucket``) or NAT gateways (``transfer``): daily streams."""
    start, stop = windows(fleet.rng, budget, days, 24)
    for i in range(start.size):
        window = (int(start[i]), int(stop[i]))
        fleet.streams.append(_daily(fleet, group, i, window, _owner(fleet)))
