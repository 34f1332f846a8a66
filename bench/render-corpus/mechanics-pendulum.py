"""Simple pendulum displaced by 15 degrees, with tension and weight."""
import numpy as np
import matplotlib.pyplot as plt
from matplotlib.patches import Arc, Circle

L = 4.0
phi = np.radians(15)
bob = np.array([L * np.sin(phi), -L * np.cos(phi)])
fig, ax = plt.subplots(figsize=(5, 6))
ax.plot([-1.5, 1.5], [0, 0], color="black", lw=3)
ax.plot([0, 0], [0, -L - 0.3], "k--", lw=1)
ax.plot([0, bob[0]], [0, bob[1]], color="black", lw=1.5)
ax.add_patch(Circle(bob, 0.25, facecolor="tab:red", edgecolor="black", zorder=3))
ax.add_patch(Arc((0, 0), 2.0, 2.0, theta1=270, theta2=270 + 15))
ax.text(0.12, -1.35, r"$\theta = 15^\circ$", fontsize=12)
ax.text(bob[0] / 2 + 0.15, bob[1] / 2, r"$L = 1.2\ \mathrm{m}$", fontsize=12)
ax.annotate("", xy=(bob[0], bob[1] - 1.4), xytext=bob, arrowprops=dict(arrowstyle="-|>", color="darkred", lw=2))
ax.text(bob[0] + 0.1, bob[1] - 1.2, r"$mg$", color="darkred", fontsize=13)
direction = -bob / np.linalg.norm(bob)
ax.annotate("", xy=bob + 1.2 * direction, xytext=bob, arrowprops=dict(arrowstyle="-|>", color="navy", lw=2))
ax.text(bob[0] - 0.6, bob[1] + 0.9, r"$T$", color="navy", fontsize=13)
ax.set_xlim(-2, 2.5)
ax.set_ylim(-6, 0.5)
ax.set_aspect("equal")
ax.axis("off")
plt.savefig("diagram.png", dpi=100, bbox_inches="tight")
