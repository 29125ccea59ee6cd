"""The default monitors: the organisation, and each team, model and provider, at a daily grain."""

from __future__ import annotations

from costcouncil.workspace.allocate.series import Scope, all_values
from costcouncil.workspace.anomaly.store import Monitoring
from costcouncil.workspace.core import Workspace

#: The dimensions that get a monitor per value by default (besides the organisation).
DEFAULT_DIMENSIONS = ("team", "model", "provider")


def default_scopes(workspace: Workspace) -> list[Scope]:
    """The organisation, then every value with cost of each default dimension."""
    keys = {"provider", *workspace.config.tags.owner_keys}
    values = [
        Scope(d, v) for d in DEFAULT_DIMENSIONS if d in keys for v in all_values(workspace, d)
    ]
    return [Scope(), *values]


def sync_default_monitors(workspace: Workspace, store: Monitoring) -> list[str]:
    """Create the default monitors that are missing (a disabled one stays disabled); the names
    created."""
    have = {m.name for m in store.monitors()}
    added = []
    for scope in default_scopes(workspace):
        name = str(scope)
        if name not in have:
            store.add_monitor(name, scope, builtin=True, actor="costcouncil")
            added.append(name)
    return added
