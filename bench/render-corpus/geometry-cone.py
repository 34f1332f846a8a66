"""Right circular cone with radius 3 and slant height 5."""
import numpy as np
import matplotlib.pyplot as plt
from matplotlib.patches import Ellipse

fig, ax = plt.subplots(figsize=(5, 6))
ax.add_patch(Ellipse((0, 0), 6, 1.2, fill=False, lw=1.5))
theta = np.linspace(np.pi, 2 * np.pi, 100)
ax.plot(3 * np.cos(theta), 0.6 * np.sin(theta), color="black", lw=1.5)
theta_back = np.linspace(0, np.pi, 100)
ax.plot(3 * np.cos(theta_back), 0.6 * np.sin(theta_back), color="white", lw=2.5)
ax.plot(3 * np.cos(theta_back), 0.6 * np.sin(theta_back), "k--", lw=1)
ax.plot([-3, 0, 3], [0, 4, 0], color="black", lw=1.5)
ax.plot([0, 0], [0, 4], "k--", lw=1)
ax.plot([0, 3], [0, 0], "k--", lw=1)
ax.plot([0, 0.25, 0.25], [0.25, 0.25, 0], color="black", lw=1)
ax.text(1.5, -0.35, "r = 3", ha="center", fontsize=12)
ax.text(-0.45, 2.0, "h", fontsize=13)
ax.text(1.75, 2.2, "l = 5", fontsize=12)
ax.text(0, 4.2, "V", ha="center", fontsize=13)
ax.set_xlim(-3.6, 3.6)
ax.set_ylim(-1.2, 4.8)
ax.set_aspect("equal")
ax.axis("off")
plt.savefig("diagram.png", dpi=100, bbox_inches="tight")
