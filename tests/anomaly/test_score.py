"""Window recall, point precision, F1; counts add up across series."""

from __future__ import annotations

import numpy as np

from costcouncil.anomaly.score import Score, score, total


def ts(*days: int) -> np.ndarray:
    return np.datetime64("2026-01-01", "s") + np.array(days) * np.timedelta64(86400, "s")


def test_recall_precision_f1() -> None:
    windows = [(ts(10)[0], ts(12)[0]), (ts(20)[0], ts(21)[0])]
    s = score(ts(10, 11, 30), windows)
    assert (s.found, s.inside, s.flagged) == (1, 2, 3)
    assert s.recall == 0.5 and s.precision == 2 / 3
    assert abs(s.f1 - 2 * (2 / 3) * 0.5 / (2 / 3 + 0.5)) < 1e-12


def test_window_edges_are_inside_and_totals_add_counts() -> None:
    a = score(ts(12), [(ts(10)[0], ts(12)[0])])
    b = score(ts(5), [(ts(10)[0], ts(12)[0])])
    assert a == Score(1, 1, 1, 1) and total([a, b]) == Score(2, 1, 2, 1)
    assert total([a, b]).f1 == 0.5


def test_nothing_flagged_scores_zero_where_windows_exist() -> None:
    s = score(ts(), [(ts(1)[0], ts(2)[0])])
    assert s.precision == 0 and s.recall == 0 and s.f1 == 0
