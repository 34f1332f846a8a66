"""Inscribed angle theorem: angle ACB subtends arc AB, central angle AOB."""
import numpy as np
import matplotlib.pyplot as plt
from matplotlib.patches import Arc, Circle

angles = {"A": np.radians(210), "B": np.radians(330), "C": np.radians(100)}
points = {name: np.array([np.cos(a), np.sin(a)]) * 3 for name, a in angles.items()}
fig, ax = plt.subplots(figsize=(6, 6))
ax.add_patch(Circle((0, 0), 3, fill=False, lw=1.5))
for first, second in [("A", "C"), ("B", "C")]:
    ax.plot(*zip(points[first], points[second]), color="tab:blue", lw=1.8)
for name in ("A", "B"):
    ax.plot(*zip((0, 0), points[name]), color="tab:red", lw=1.5)
ax.add_patch(Arc((0, 0), 1.2, 1.2, theta1=210, theta2=330, color="tab:red"))
ax.text(0, -0.95, r"$2\alpha$", ha="center", fontsize=13, color="tab:red")
c = points["C"]
ax.add_patch(Arc(c, 1.4, 1.4, theta1=np.degrees(np.arctan2(*(points["A"] - c)[::-1])),
                 theta2=np.degrees(np.arctan2(*(points["B"] - c)[::-1])), color="tab:blue"))
ax.text(c[0] + 0.05, c[1] - 1.0, r"$\alpha = 35^\circ$", ha="center", fontsize=12, color="tab:blue")
for name, point in points.items():
    ax.plot(*point, "ko", markersize=4)
    ax.text(*(point * 1.12), name, ha="center", va="center", fontsize=14)
ax.plot(0, 0, "ko", markersize=4)
ax.text(0.15, 0.15, "O", fontsize=14)
ax.set_xlim(-3.8, 3.8)
ax.set_ylim(-3.8, 3.8)
ax.set_aspect("equal")
ax.axis("off")
plt.savefig("diagram.png", dpi=100, bbox_inches="tight")
