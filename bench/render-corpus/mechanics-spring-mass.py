"""Horizontal spring-mass oscillator on a frictionless surface."""
import numpy as np
import matplotlib.pyplot as plt
from matplotlib.patches import Rectangle

fig, ax = plt.subplots(figsize=(8, 3))
ax.add_patch(Rectangle((-0.3, 0), 0.3, 2.0, hatch="///", facecolor="white", edgecolor="black"))
ax.plot([-0.3, 7], [0, 0], color="black", lw=2)
coils = 12
xs = np.linspace(0, 4, coils * 2 + 1)
ys = 1.0 + 0.3 * np.array([0] + [(-1) ** i for i in range(coils * 2 - 1)] + [0])
ax.plot(xs, ys, color="gray", lw=2)
ax.add_patch(Rectangle((4, 0.4), 1.2, 1.2, facecolor="tab:blue", edgecolor="black"))
ax.text(4.6, 1.0, r"$m$", color="white", ha="center", va="center", fontsize=16)
ax.text(2.0, 1.6, r"$k = 50\ \mathrm{N/m}$", ha="center", fontsize=12)
ax.plot([4.6, 4.6], [-0.1, -0.5], "k--", lw=1)
ax.annotate("", xy=(6.0, -0.35), xytext=(4.6, -0.35), arrowprops=dict(arrowstyle="->", lw=1.5))
ax.text(5.3, -0.7, r"$x$", ha="center", fontsize=13)
ax.text(4.6, -0.8, "equilibrium", ha="center", fontsize=9)
ax.text(6.2, 1.0, r"$m = 0.5\ \mathrm{kg}$", fontsize=12, va="center")
ax.set_xlim(-0.6, 8)
ax.set_ylim(-1.2, 2.4)
ax.set_aspect("equal")
ax.axis("off")
plt.savefig("diagram.png", dpi=100, bbox_inches="tight")
