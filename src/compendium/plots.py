"""Figures: the recurrence heatmap and interview durations (deterministic styling)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

__all__ = ["recurrence_heatmap", "durations_figure", "STYLE"]

STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "svg.hashsalt": "compendium",
    "svg.fonttype": "path",
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def recurrence_heatmap(counts: pd.DataFrame, labels: dict[str, str]) -> plt.Figure:
    """Themes (rows) x participants (columns); cell = number of coded segments."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(7.5, 4.2))
        data = counts.to_numpy()
        image = ax.imshow(data, cmap="Blues", aspect="auto", vmin=0)
        ax.set_xticks(range(counts.shape[1]), counts.columns, rotation=30, ha="right")
        ax.set_yticks(range(counts.shape[0]), [f"{t} {labels[t]}"[:48] for t in counts.index])
        for i in range(data.shape[0]):
            for j in range(data.shape[1]):
                value = int(data[i, j])
                ax.text(j, i, str(value) if value else "-", ha="center", va="center", fontsize=8,
                        color="white" if value > data.max() / 2 else "black")
        ax.set_xlabel("Participant (pseudonym)")
        ax.set_title("Coded segments per theme and participant")
        fig.colorbar(image, ax=ax, label="Segments", shrink=0.8)
        fig.tight_layout()
    return fig


def durations_figure(minutes: pd.Series, mean: float) -> plt.Figure:
    """One dot per interview, sorted by length, with the mean; unlabelled so no person is singled out."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(5.5, 2.6))
        values = sorted(int(m) for m in minutes)
        ax.plot(range(1, len(values) + 1), values, "o", color="#1f4e79")
        ax.axhline(mean, color="#999999", linestyle="--", linewidth=1)
        ax.text(len(values) + 0.4, mean, f"mean {mean:g}", va="center", fontsize=8, color="#555555")
        ax.set_xlim(0.5, len(values) + 1.8)
        ax.set_xticks(range(1, len(values) + 1))
        ax.set_xlabel("Interviews, shortest to longest")
        ax.set_ylabel("Minutes")
        ax.set_title("Interview durations")
        fig.tight_layout()
    return fig
