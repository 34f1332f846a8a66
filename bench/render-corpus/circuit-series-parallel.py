"""A 12 V source driving R1 in series with R2 parallel R3."""
import numpy as np
import matplotlib.pyplot as plt


def resistor(ax, start, end, label, offset=(0, 0.35)):
    start, end = np.array(start, float), np.array(end, float)
    direction = (end - start) / np.linalg.norm(end - start)
    normal = np.array([-direction[1], direction[0]])
    length = np.linalg.norm(end - start)
    lead = 0.3 * length
    points = [start, start + lead * direction]
    for i in range(6):
        points.append(start + (lead + (i + 0.5) * (length - 2 * lead) / 6) * direction + (0.15 if i % 2 == 0 else -0.15) * normal)
    points += [end - lead * direction, end]
    points = np.array(points)
    ax.plot(points[:, 0], points[:, 1], color="black", lw=1.5)
    middle = (start + end) / 2
    ax.text(middle[0] + offset[0], middle[1] + offset[1], label, ha="center", va="center", fontsize=12)


fig, ax = plt.subplots(figsize=(8, 5))
ax.plot([0, 0], [0, 1.6], color="black", lw=1.5)
ax.plot([0, 0], [2.4, 4], color="black", lw=1.5)
ax.plot([-0.4, 0.4], [2.4, 2.4], color="black", lw=2)
ax.plot([-0.2, 0.2], [1.6, 1.6], color="black", lw=4)
ax.text(-0.6, 2.0, "12 V", ha="right", va="center", fontsize=12)
ax.text(0.5, 2.5, "+", fontsize=12)
resistor(ax, (0, 4), (3, 4), r"$R_1 = 4\,\Omega$")
ax.plot([3, 5], [4, 4], color="black", lw=1.5)
ax.plot([3, 3], [4, 0], color="white", lw=0)
resistor(ax, (3, 4), (3, 0), r"$R_2 = 6\,\Omega$", offset=(-1.0, 0))
resistor(ax, (5, 4), (5, 0), r"$R_3 = 12\,\Omega$", offset=(1.1, 0))
ax.plot([0, 5], [0, 0], color="black", lw=1.5)
for x, y in [(3, 4), (3, 0)]:
    ax.plot(x, y, "o", color="black", markersize=5)
ax.annotate("", xy=(1.5, 4.6), xytext=(0.6, 4.6), arrowprops=dict(arrowstyle="->", color="tab:red"))
ax.text(1.05, 4.8, r"$I$", color="tab:red", fontsize=12)
ax.set_xlim(-1.5, 6.8)
ax.set_ylim(-0.6, 5.2)
ax.set_aspect("equal")
ax.axis("off")
plt.savefig("diagram.png", dpi=100, bbox_inches="tight")
