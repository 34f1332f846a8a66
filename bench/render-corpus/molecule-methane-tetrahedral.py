"""Methane in 3D: tetrahedral geometry around carbon."""
import numpy as np
import matplotlib.pyplot as plt

directions = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=float)
directions /= np.linalg.norm(directions, axis=1, keepdims=True)
hydrogens = directions * 1.09
fig = plt.figure(figsize=(6, 6))
ax = fig.add_subplot(projection="3d")
ax.scatter(0, 0, 0, s=600, color="black")
ax.scatter(*hydrogens.T, s=250, color="lightgray", edgecolor="black")
for hydrogen in hydrogens:
    ax.plot(*zip((0, 0, 0), hydrogen), color="gray", lw=3)
for index, hydrogen in enumerate(hydrogens):
    ax.text(*(hydrogen * 1.25), f"H{index + 1}", fontsize=12)
ax.text(0.1, 0.1, 0.1, "C", color="white", fontsize=13)
ax.text2D(0.05, 0.95, r"H$-$C$-$H angle: $109.5^\circ$", transform=ax.transAxes, fontsize=12)
ax.set_box_aspect((1, 1, 1))
ax.set_axis_off()
ax.view_init(elev=18, azim=35)
plt.savefig("diagram.png", dpi=100, bbox_inches="tight")
