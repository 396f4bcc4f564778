"""The sweep chart's axes tick at round numbers: a first-time user's temperature sweep read
0.13 / 0.643 / 1.16 / 1.67 across and 341 / 425 / 510 / 594 / 678 up (Qt's even split of the
padded data range). Ticks step by 1, 2, 2.5 or 5 times a power of ten and cover the data."""

from __future__ import annotations

import math

import pytest
from pytestqt.qtbot import QtBot

from tests.ui.windows import shot
from workbench.ui import theming
from workbench.ui.compare.sweep_chart import METRICS, MetricChart, nice_ticks, step_decimals


def ticks(first: float, last: float, step: float) -> list[float]:
    return [round(first + i * step, 9) for i in range(round((last - first) / step) + 1)]


@pytest.mark.parametrize(("low", "high", "expected"), [
    (0.2, 1.6, [0, 0.5, 1, 1.5, 2]),
    (341, 678, [300, 400, 500, 600, 700]),
    (0, 1, [0, 0.2, 0.4, 0.6, 0.8, 1]),
    (-3, 7, [-5, -2.5, 0, 2.5, 5, 7.5]),
    (0.001, 0.0042, [0.001, 0.002, 0.003, 0.004, 0.005]),
    (12_000, 15_800, [12_000, 13_000, 14_000, 15_000, 16_000]),
    (0, 0, [0, 0.2, 0.4, 0.6, 0.8, 1]),  # one value, zero: from zero up
    (5, 5, [2, 4, 6, 8]),  # one value: a range around it
])
def test_nice_ticks_are_round_and_cover_the_data(
    low: float, high: float, expected: list[float]
) -> None:
    first, last, step = nice_ticks(low, high)
    assert ticks(first, last, step) == expected
    assert first <= low and last >= high
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert round(mantissa, 9) in (1, 2, 2.5, 5)


def test_every_range_gets_at_most_six_nice_ticks() -> None:
    for low, high in ((0.13, 1.67), (0.1, 1.1), (1, 99), (0.02, 0.97), (7, 7.3), (-41, 13)):
        first, last, step = nice_ticks(low, high)
        assert 2 <= len(ticks(first, last, step)) <= 6, (low, high)
        assert first <= low and last >= high


def test_tick_labels_show_the_steps_decimals() -> None:
    assert [step_decimals(s) for s in (100, 1, 0.5, 0.25, 0.001, 2.5e-5)] == [0, 0, 1, 2, 3, 6]


def test_the_chart_ticks_a_temperature_sweep_at_round_values(
    qtbot: QtBot, theme: theming.Theme
) -> None:
    chart = MetricChart()
    qtbot.addWidget(chart)
    chart.resize(600, 420)
    chart.show()
    qtbot.waitExposed(chart)
    xs = [0.2, 0.6, 1.0, 1.4, 1.6]
    tokens = [372.0, 510.0, 648.0, 401.0, 647.0]
    metric = next(m for m in METRICS if m.key == "output_tokens")
    chart.plot("temperature", xs, [f"temperature {x}" for x in xs], [""],
               {(r, 0): v for r, v in enumerate(tokens)}, metric)
    x, y = chart.x_axis, chart.y_axis
    assert (x.min(), x.max(), x.tickCount(), x.labelFormat()) == (0.0, 2.0, 5, "%.1f")
    assert (y.min(), y.max(), y.tickCount(), y.labelFormat()) == (300.0, 700.0, 5, "%.0f")
    shot(chart, "sweep-chart-nice-ticks")
