"""Histogram of 200 student heights with the mean marked."""
import numpy as np
import matplotlib.pyplot as plt

rng = np.random.default_rng(7)
heights = rng.normal(165, 8, 200)
fig, ax = plt.subplots(figsize=(7, 4.5))
counts, edges, _ = ax.hist(heights, bins=np.arange(140, 192, 4), edgecolor="black", color="tab:cyan")
ax.axvline(heights.mean(), color="tab:red", lw=2, ls="--")
ax.text(heights.mean() + 0.8, counts.max() * 0.95, f"mean = {heights.mean():.1f} cm", color="tab:red")
ax.set_xlabel("height (cm)")
ax.set_ylabel("number of students")
ax.set_title("Heights of 200 students")
ax.set_xticks(edges)
ax.tick_params(axis="x", labelsize=8)
plt.savefig("diagram.png", dpi=100, bbox_inches="tight")
