"""Policies over a workspace (docs/policies.md): the engine's input tables read from the lake
(:mod:`.inputs`), the violations' lifecycle in the app database (:mod:`.store`) and evaluation
runs (:mod:`.run`)."""
