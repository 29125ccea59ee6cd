"""The ``costs`` input table: allocated cost per day and slice, with the keys the bill's tags held.

Rows come from the ``resources`` allocation rollup (every day up to ``as_of``: ``experiment_cap``
reads all of them), summed per day, resource, service category, owner keys and ``tag_keys``;
``cost`` is ``EffectiveCost`` in the workspace's currency, so the table's total for any days is
the lake's allocated total for them. ``instance_type`` and ``accelerator_type`` are the
resource's (:func:`~costcouncil.workspace.policy.inputs_lake.resource_sql`).

``tag_keys`` are read from the bill's own ``Tags`` (parsed once per distinct value), not from the
allocation: an owner key counts when the tags give it a non-empty value under any spelling a
``tag`` rule would read — the key, ``Key``, ``KEY``, the workspace's ``tags.aliases`` and the tag
rules' own ``aliases``. Other tag keys are listed as written. So spend whose owner a resource rule,
a usage split or a shared pool decided, with tags lacking the keys, shows as lacking them; the
allocation's ``method`` cannot tell this, as it names only the first rule that gave any key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import pyarrow as pa

from costcouncil.attribution.rules import Rules, TagRule
from costcouncil.documents import TagConfig
from costcouncil.policy import COSTS_SCHEMA
from costcouncil.schema.sql import q
from costcouncil.workspace.policy.inputs_lake import ENGINE_KEYS, Lake

#: The tag-keys lookup table's schema: a ``Tags`` value and the keys it carries.
TAGMAP_SCHEMA = pa.schema([("tags", pa.string()), ("tag_keys", pa.list_(pa.string()))])


def costs_table(lake: Lake) -> pa.Table:
    """The ``costs`` table (module docstring), exactly typed, the workspace's other owner keys
    after the engine's columns."""
    schema = with_owner_keys(COSTS_SCHEMA, lake.keys)
    if not lake.allocated:
        return schema.empty_table()
    tags = lake.arrow("SELECT DISTINCT tags FROM res WHERE tags IS NOT NULL")["tags"].to_pylist()
    lake.con.register(
        "cc_tagkeys", tag_map(tags, spellings(lake.workspace.config.tags, lake.rules))
    )
    extra = [n for n in schema.names if n not in COSTS_SCHEMA.names]
    owners = ", ".join(f"{lake.owner(k, 'r.')} AS {q(k)}" for k in (*ENGINE_KEYS, *extra))
    sql = (
        "SELECT r.day, r.resource AS resource_id, i.instance_type, i.accelerator_type, "
        f"r.service_category, {owners}, coalesce(t.tag_keys, CAST([] AS VARCHAR[])) AS tag_keys, "
        "SUM(r.EffectiveCost) AS cost FROM res AS r "
        "LEFT JOIN cc_res AS i ON i.resource_id = r.resource "
        "LEFT JOIN cc_tagkeys AS t ON t.tags = r.tags GROUP BY ALL ORDER BY ALL"
    )
    return lake.arrow(sql).select(schema.names).cast(schema)


def with_owner_keys(schema: pa.Schema, keys: Sequence[str]) -> pa.Schema:
    """``schema`` with a string column for each of ``keys`` it lacks, appended."""
    out = schema
    for key in keys:
        if key not in out.names:
            out = out.append(pa.field(key, pa.string()))
    return out


def spellings(tags: TagConfig, rules: Rules | None) -> dict[str, list[str]]:
    """Per owner key, every tag key a ``tag`` rule reads it from (attribution's lookup order)."""
    rule_aliases = [r.aliases for r in rules.rules if isinstance(r, TagRule)] if rules else []
    out = {}
    for key in tags.owner_keys:
        names = [key, key.capitalize(), key.upper(), *tags.aliases.get(key, [])]
        names += [name for aliases in rule_aliases for name in aliases.get(key, [])]
        out[key] = list(dict.fromkeys(names))
    return out


def tag_keys_of(text: str | None, names: Mapping[str, Sequence[str]]) -> list[str]:
    """The keys a ``Tags`` JSON object carries with a non-empty value, sorted: the owner keys of
    ``names`` (owner key -> its spellings) under their own name, any other key as written.
    Not a JSON object (empty, null, malformed): no keys."""
    try:
        found = json.loads(text) if text else None
    except ValueError:
        return []
    if not isinstance(found, dict):
        return []
    given = {str(k) for k, v in found.items() if v is not None and str(v).strip() != ""}
    owners = {key for key, spelt in names.items() if given.intersection(spelt)}
    spelt_any = {s for spelt in names.values() for s in spelt}
    return sorted(owners | {k for k in given if k not in spelt_any})


def tag_map(tags: Sequence[str], names: Mapping[str, Sequence[str]]) -> pa.Table:
    """A lookup table from each ``Tags`` value to its :func:`tag_keys_of`."""
    keys = [tag_keys_of(t, names) for t in tags]
    return pa.table([pa.array(tags, pa.string()), pa.array(keys, pa.list_(pa.string()))],
                    schema=TAGMAP_SCHEMA)  # fmt: skip
