"""Atwood machine: two masses over a frictionless pulley."""
import matplotlib.pyplot as plt
from matplotlib.patches import Circle, Rectangle, FancyArrowPatch

fig, ax = plt.subplots(figsize=(5, 7))
ax.plot([-2, 2], [10, 10], color="black", lw=4)
ax.plot([0, 0], [10, 9], color="black", lw=2)
ax.add_patch(Circle((0, 8.5), 0.5, facecolor="lightgray", edgecolor="black", lw=2))
ax.plot([-0.5, -0.5], [8.5, 4.0], color="saddlebrown", lw=1.5)
ax.plot([0.5, 0.5], [8.5, 5.5], color="saddlebrown", lw=1.5)
ax.add_patch(Rectangle((-1.0, 3.0), 1.0, 1.0, facecolor="tab:orange", edgecolor="black"))
ax.add_patch(Rectangle((0.1, 4.3), 0.8, 1.2, facecolor="tab:green", edgecolor="black"))
ax.text(-0.5, 3.5, r"$m_1$", ha="center", va="center", fontsize=14)
ax.text(0.5, 4.9, r"$m_2$", ha="center", va="center", fontsize=14)
for x, y0, y1, label in [(-0.75, 3.0, 1.8, r"$m_1 g$"), (0.7, 4.3, 3.1, r"$m_2 g$")]:
    ax.add_patch(FancyArrowPatch((x, y0), (x, y1), arrowstyle="-|>", mutation_scale=15, color="darkred"))
    ax.text(x + 0.1, (y0 + y1) / 2, label, fontsize=12, color="darkred")
ax.add_patch(FancyArrowPatch((-0.3, 4.0), (-0.3, 5.0), arrowstyle="-|>", mutation_scale=15, color="navy"))
ax.text(-0.25, 4.6, r"$T$", fontsize=12, color="navy")
ax.text(1.3, 8.5, "frictionless pulley", fontsize=11, va="center")
ax.text(-1.9, 1.0, r"$m_1 = 3\,\mathrm{kg},\ m_2 = 2\,\mathrm{kg}$", fontsize=12)
ax.set_xlim(-2.5, 3.5)
ax.set_ylim(0.5, 10.5)
ax.set_aspect("equal")
ax.axis("off")
plt.savefig("diagram.png", dpi=100, bbox_inches="tight")
