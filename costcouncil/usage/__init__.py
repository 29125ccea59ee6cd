"""Usage sources: where GPU jobs and LLM calls come from, mapped to the ``jobs`` and ``llm`` schemas.

Each source is a :class:`~costcouncil.usage.base.UsageSource` declared in a module of
``costcouncil.usage.sources``; :data:`~costcouncil.usage.sources.REGISTRY` lists them all.
"""
