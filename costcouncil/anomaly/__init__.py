"""Anomaly detection on cost and usage series, and root causes in AI terms (docs/anomalies.md).

Pure engine: :func:`~costcouncil.anomaly.detect.detect` judges each point of a
:class:`~costcouncil.schema.series.Series` causally, :func:`~costcouncil.anomaly.events.events`
merges flagged points into anomalies, :class:`~costcouncil.anomaly.rate.RateMonitor` watches
live spend rates, :mod:`~costcouncil.anomaly.score` scores flags against labelled windows.
"""

from costcouncil.anomaly.detect import DEFAULT_SENSITIVITY, Detection, Known, detect
from costcouncil.anomaly.events import Event, events
from costcouncil.anomaly.rate import RateAlert, RateMonitor

__all__ = [
    "DEFAULT_SENSITIVITY",
    "Detection",
    "Event",
    "Known",
    "RateAlert",
    "RateMonitor",
    "detect",
    "events",
]
