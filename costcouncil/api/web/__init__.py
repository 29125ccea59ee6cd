"""The web dashboard: server-rendered pages, each with a ``.json`` twin, charts by Plotly.

Plotly's JavaScript is served from the installed ``plotly`` package (no CDN), templates are
Jinja2 with autoescaping, and chart data travels as JSON inside ``<script type=application/json>``
with ``<``, ``>`` and ``&`` escaped, so hostile tag values are shown as text.
"""
