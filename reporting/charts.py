"""Charts drawn on the server as SVG coordinates: the template only places the shapes, no JavaScript and no
third-party asset (the strict Content-Security-Policy allows neither inline scripts nor styles; SVG
presentation attributes are neither). Colours come from classes in ``static/css/reports.css``."""

from __future__ import annotations

from dataclasses import dataclass, field

BAR_HEIGHT, BAR_GAP, LABEL_WIDTH, BAR_AREA = 18, 6, 110, 300


@dataclass
class Bar:
    label: str
    value: float
    y: float
    width: float
    text_x: float
    text_y: float


@dataclass
class BarChart:
    title: str
    bars: list[Bar]
    width: int
    height: int
    label_width: int = LABEL_WIDTH


def bar_chart(title: str, items: list[tuple[object, float]]) -> BarChart:
    """Horizontal bars, longest = the largest value."""
    top = max((v or 0 for _, v in items), default=0) or 1
    bars = []
    for i, (label, value) in enumerate(items):
        y = i * (BAR_HEIGHT + BAR_GAP)
        width = round(BAR_AREA * (value or 0) / top, 1)
        bars.append(Bar(str(label), value or 0, y, width, LABEL_WIDTH + width + 4, y + BAR_HEIGHT - 5))
    height = max(1, len(items)) * (BAR_HEIGHT + BAR_GAP)
    return BarChart(title, bars, LABEL_WIDTH + BAR_AREA + 60, height)


@dataclass
class Series:
    name: str
    css: str
    points: str  # "x,y x,y …" for <polyline>
    total: float


@dataclass
class LineChart:
    title: str
    series: list[Series]
    width: int
    height: int
    top: float
    ticks: list[tuple[float, str]] = field(default_factory=list)  # (x, label) under the axis
    plot_height: int = 0


def line_chart(title: str, labels: list[str], series: list[tuple[str, str, list[float]]]) -> LineChart:
    """One polyline per series over the same x labels (days, hours); a few labels under the axis."""
    width, plot_height, pad = 560, 160, 30
    top = max((v for _, _, values in series for v in values), default=0) or 1
    steps = max(1, len(labels) - 1)

    def x(i: int) -> float:
        return round(pad + (width - 2 * pad) * i / steps, 1)

    drawn = []
    for name, css, values in series:
        points = " ".join(
            f"{x(i)},{round(plot_height - plot_height * v / top + 5, 1)}" for i, v in enumerate(values)
        )
        drawn.append(Series(name, css, points, sum(values)))
    every = max(1, len(labels) // 6)
    ticks = [(x(i), label) for i, label in enumerate(labels) if i % every == 0 or i == len(labels) - 1]
    return LineChart(title, drawn, width, plot_height + 30, top, ticks, plot_height)
