"""Figures: full theme labels (wrapped, never cut), a discrete colour scale for counts, a mean label
clear of its line."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from compendium import plots

LABELS = {
    "1.1": "Lasting sense of 'something's wrong with me'",
    "3.1": "Considerations for clients whose parents experience mental illness",
    "3.2": "Short",
}


def heatmap() -> plt.Figure:
    counts = pd.DataFrame(
        [[0, 1, 2], [3, 0, 1], [2, 2, 0]],
        index=pd.Index(list(LABELS), name="theme_id"),
        columns=["Amy", "Eric", "Susan"],
    )
    return plots.recurrence_heatmap(counts, LABELS)


def test_heatmap_labels_are_wrapped_not_cut() -> None:
    fig = heatmap()
    ticks = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    for tick, (theme_id, label) in zip(ticks, LABELS.items()):
        assert " ".join(tick.split()) == f"{theme_id} {label}"
        assert all(len(line) <= 38 for line in tick.split("\n"))
    assert "\n" in ticks[1]
    plt.close(fig)


def test_heatmap_colour_scale_is_discrete_with_one_tick_per_count() -> None:
    fig = heatmap()
    image = fig.axes[0].images[0]
    assert image.cmap.N == 4  # counts 0, 1, 2, 3
    colours = {tuple(np.round(image.cmap(image.norm(v)), 4)) for v in range(4)}
    assert len(colours) == 4
    assert image.norm(1.4) == image.norm(1) and image.norm(1.6) == image.norm(2)  # whole-number bins
    bar = fig.axes[1]
    assert [t.get_text() for t in bar.get_yticklabels()] == ["0", "1", "2", "3"]
    plt.close(fig)


def test_mean_label_sits_above_the_dashed_line() -> None:
    fig = plots.durations_figure(pd.Series([49, 55, 60, 71]), 58.75)
    ax = fig.axes[0]
    fig.canvas.draw()
    label = next(t for t in ax.texts if "58.8" in t.get_text())
    line = ax.lines[-1]
    box = label.get_window_extent()
    line_y = ax.transData.transform((0, 58.75))[1]
    assert box.y0 > line_y, "the mean label overlaps its line"
    assert line.get_linestyle() == "--"
    points = ax.lines[0].get_xydata()
    label_x = ax.transData.inverted().transform((box.x0, box.y0))[0]
    assert label_x > points[:, 0].max(), "the label sits among the dots"
    plt.close(fig)


def test_figures_keep_no_layout_engine_so_savefig_draws_them_once() -> None:
    """The figures are laid out as ``tight_layout()`` lays them out (their bytes are in the committed
    manifest), but leave no layout engine behind: with one, ``savefig`` would lay out every text
    again for each file it writes."""
    import io

    figures = [heatmap(), plots.durations_figure(pd.Series([50, 62, 71]), 61.0)]
    for fig in figures:
        assert fig.get_layout_engine() is None
    draws: list[int] = []
    original = type(figures[0]).draw
    type(figures[0]).draw = lambda self, renderer: draws.append(1) or original(self, renderer)  # type: ignore[method-assign]
    try:
        for fig in figures:
            for fmt in ("png", "svg"):
                fig.savefig(io.BytesIO(), format=fmt)
    finally:
        type(figures[0]).draw = original  # type: ignore[method-assign]
        for fig in figures:
            plt.close(fig)
    assert len(draws) == 4, f"four files took {len(draws)} drawings"
