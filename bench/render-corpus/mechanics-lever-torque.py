"""A uniform beam on a pivot with two hanging loads (torque balance)."""
import matplotlib.pyplot as plt
from matplotlib.patches import Polygon, Rectangle

fig, ax = plt.subplots(figsize=(8, 4))
ax.add_patch(Rectangle((0, 2.0), 8, 0.25, facecolor="burlywood", edgecolor="black"))
ax.add_patch(Polygon([[3, 2.0], [2.6, 1.2], [3.4, 1.2]], closed=True, facecolor="gray", edgecolor="black"))
ax.plot([2.2, 3.8], [1.2, 1.2], color="black", lw=2)
for x, label, mass in [(0.5, "A", "20 N"), (7.0, "B", "?")]:
    ax.plot([x, x], [2.0, 1.0], color="black")
    ax.add_patch(Rectangle((x - 0.35, 0.4), 0.7, 0.6, facecolor="tab:blue", edgecolor="black"))
    ax.text(x, 0.7, mass, ha="center", va="center", color="white", fontsize=11)
    ax.text(x, 2.45, label, ha="center", fontsize=13)
ax.annotate("", xy=(0.5, 2.8), xytext=(3, 2.8), arrowprops=dict(arrowstyle="<->"))
ax.text(1.75, 2.95, "2.5 m", ha="center", fontsize=11)
ax.annotate("", xy=(3, 2.8), xytext=(7.0, 2.8), arrowprops=dict(arrowstyle="<->"))
ax.text(5.0, 2.95, "4.0 m", ha="center", fontsize=11)
ax.text(3.0, 0.9, "pivot", ha="center", fontsize=10)
ax.set_xlim(-0.5, 8.5)
ax.set_ylim(0, 3.5)
ax.set_aspect("equal")
ax.axis("off")
ax.set_title("Beam in rotational equilibrium")
plt.savefig("diagram.png", dpi=100, bbox_inches="tight")
