"""Coordinate geometry: circle (x-2)^2 + (y-1)^2 = 9 and the line y = x - 2."""
import numpy as np
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(6, 6))
t = np.linspace(0, 2 * np.pi, 300)
ax.plot(2 + 3 * np.cos(t), 1 + 3 * np.sin(t), lw=2, label=r"$(x-2)^2 + (y-1)^2 = 9$")
x = np.linspace(-3, 7, 50)
ax.plot(x, x - 2, lw=2, label=r"$y = x - 2$")
# Substituting y = x - 2: (x - 2)^2 + (x - 3)^2 = 9, i.e. 2x^2 - 10x + 4 = 0.
for root in np.roots([2, -10, 4]):
    ax.plot(root, root - 2, "ko")
ax.plot(2, 1, "k+", markersize=12)
ax.text(2.15, 1.15, "(2, 1)", fontsize=11)
ax.axhline(0, color="black", lw=0.8)
ax.axvline(0, color="black", lw=0.8)
ax.set_xlim(-2, 6)
ax.set_ylim(-3, 5)
ax.set_aspect("equal")
ax.grid(alpha=0.3)
ax.set_xlabel("x")
ax.set_ylabel("y")
ax.legend(loc="upper left", fontsize=10)
plt.savefig("diagram.png", dpi=100, bbox_inches="tight")
