"""Magnetic field lines around a long straight wire carrying current out of the page."""
import numpy as np
import matplotlib.pyplot as plt

x, y = np.meshgrid(np.linspace(-3, 3, 40), np.linspace(-3, 3, 40))
r2 = x ** 2 + y ** 2 + 0.05
fig, ax = plt.subplots(figsize=(6, 6))
ax.streamplot(x, y, -y / r2, x / r2, density=1.2, color=np.sqrt(1 / r2), cmap="viridis", linewidth=1)
ax.plot(0, 0, "o", markersize=18, mfc="white", mec="black")
ax.plot(0, 0, "k.", markersize=6)
ax.text(0.35, -0.45, r"$I$ (out of page)", fontsize=12)
ax.set_xlabel("x (cm)")
ax.set_ylabel("y (cm)")
ax.set_aspect("equal")
ax.set_title(r"$B = \mu_0 I / 2\pi r$")
plt.savefig("diagram.png", dpi=100, bbox_inches="tight")
