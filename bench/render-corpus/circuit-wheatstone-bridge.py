"""Wheatstone bridge with a galvanometer across the middle."""
import matplotlib.pyplot as plt
from matplotlib.patches import Circle

nodes = {"A": (0, 0), "B": (2, 2), "C": (4, 0), "D": (2, -2)}
fig, ax = plt.subplots(figsize=(6, 6))
labels = {("A", "B"): r"$P = 10\,\Omega$", ("B", "C"): r"$Q = 20\,\Omega$", ("A", "D"): r"$R = 15\,\Omega$", ("D", "C"): r"$S$"}
for (first, second), label in labels.items():
    (x0, y0), (x1, y1) = nodes[first], nodes[second]
    ax.plot([x0, x1], [y0, y1], color="black", lw=1.5)
    xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
    ax.add_patch(plt.Rectangle((xm - 0.3, ym - 0.12), 0.6, 0.24, angle=45 if (y1 - y0) * (x1 - x0) > 0 else -45,
                               rotation_point="center", facecolor="white", edgecolor="black", zorder=3))
    ax.text(xm + (-0.7 if xm < 2 else 0.7), ym + (0.35 if ym > 0 else -0.35), label, ha="center", fontsize=12)
ax.plot([2, 2], [2, -2], color="black", lw=1.2)
ax.add_patch(Circle((2, 0), 0.35, facecolor="white", edgecolor="black", zorder=3))
ax.text(2, 0, "G", ha="center", va="center", fontsize=13, zorder=4)
ax.plot([0, 0, 4, 4], [0, -3.2, -3.2, 0], color="black", lw=1.5)
ax.plot([1.8, 1.8], [-2.9, -3.5], color="black", lw=2)
ax.plot([2.2, 2.2], [-3.05, -3.35], color="black", lw=4)
ax.plot([1.8, 2.2], [-3.2, -3.2], color="white", lw=4)
ax.text(2, -3.8, "6 V", ha="center", fontsize=12)
for name, (x, y) in nodes.items():
    ax.plot(x, y, "o", color="black")
    ax.text(x + (-0.35 if x < 2 else 0.35 if x > 2 else 0.3), y + (0.3 if y >= 0 else -0.4), name, fontsize=13)
ax.set_xlim(-1, 5)
ax.set_ylim(-4.3, 3)
ax.set_aspect("equal")
ax.axis("off")
plt.savefig("diagram.png", dpi=100, bbox_inches="tight")
