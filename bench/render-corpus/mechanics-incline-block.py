"""A block on a rough 30 degree incline with its free-body forces."""
import numpy as np
import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, Polygon, Rectangle, Arc

theta = np.radians(30)
length = 6.0
fig, ax = plt.subplots(figsize=(7, 5))
ax.add_patch(Polygon([[0, 0], [length * np.cos(theta), 0], [length * np.cos(theta), length * np.sin(theta)]],
                     closed=True, facecolor="#eeeeee", edgecolor="black", lw=2))
cx, cy = 3 * np.cos(theta), 3 * np.sin(theta)
ax.add_patch(Rectangle((cx - 0.4, cy), 0.8, 0.6, angle=30, rotation_point=(cx, cy), facecolor="tab:blue", edgecolor="black"))
center = np.array([cx - 0.3 * np.sin(theta), cy + 0.3 * np.cos(theta)])
forces = {
    r"$mg$": (0.0, -1.6),
    r"$N$": (-1.3 * np.sin(theta), 1.3 * np.cos(theta)),
    r"$f_k$": (-1.1 * np.cos(theta), -1.1 * np.sin(theta)),
}
for label, (dx, dy) in forces.items():
    ax.add_patch(FancyArrowPatch(center, center + (dx, dy), arrowstyle="-|>", mutation_scale=18, lw=2, color="darkred"))
    ax.text(center[0] + 1.18 * dx + 0.1, center[1] + 1.18 * dy, label, fontsize=14, color="darkred")
ax.add_patch(Arc((0, 0), 2.2, 2.2, theta1=0, theta2=30, lw=1.5))
ax.text(1.25, 0.25, r"$\theta = 30^\circ$", fontsize=13)
ax.text(2.6, 2.2, r"$m = 2.0\ \mathrm{kg}$", fontsize=12)
ax.text(3.5, 0.9, r"$\mu_k = 0.25$", fontsize=12)
ax.set_xlim(-0.5, 6)
ax.set_ylim(-1, 4)
ax.set_aspect("equal")
ax.axis("off")
ax.set_title("Block sliding down a rough incline")
plt.savefig("diagram.png", dpi=100, bbox_inches="tight")
