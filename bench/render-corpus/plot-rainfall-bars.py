"""Monthly rainfall for two cities as grouped bars."""
import numpy as np
import matplotlib.pyplot as plt

months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
north = [78, 61, 65, 55, 52, 60, 58, 70, 68, 90, 95, 88]
south = [30, 28, 35, 45, 60, 85, 120, 110, 70, 40, 32, 29]
x = np.arange(len(months))
fig, ax = plt.subplots(figsize=(9, 4.5))
bars_north = ax.bar(x - 0.2, north, 0.4, label="Northtown", color="tab:blue")
bars_south = ax.bar(x + 0.2, south, 0.4, label="Southport", color="tab:orange")
ax.bar_label(bars_south, padding=2, fontsize=7)
ax.set_xticks(x, months)
ax.set_ylabel("rainfall (mm)")
ax.set_title("Average monthly rainfall")
ax.legend(loc="upper left")
ax.set_ylim(0, 135)
ax.grid(axis="y", alpha=0.3)
plt.savefig("diagram.png", dpi=100, bbox_inches="tight")
