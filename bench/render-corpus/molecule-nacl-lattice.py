"""Sodium chloride unit cell (rock-salt structure)."""
import itertools
import numpy as np
import matplotlib.pyplot as plt

fig = plt.figure(figsize=(6, 6))
ax = fig.add_subplot(projection="3d")
points = np.array(list(itertools.product(range(3), repeat=3)), dtype=float)
sodium = points[points.sum(axis=1) % 2 == 0]
chloride = points[points.sum(axis=1) % 2 == 1]
ax.scatter(*sodium.T, s=120, color="tab:purple", label=r"Na$^+$", depthshade=False)
ax.scatter(*chloride.T, s=320, color="tab:green", label=r"Cl$^-$", depthshade=False)
for start, end in itertools.combinations(points, 2):
    if np.isclose(np.linalg.norm(start - end), 1.0):
        ax.plot(*zip(start, end), color="gray", lw=0.8)
ax.text(2.2, -0.3, 0, "a = 564 pm", fontsize=11)
ax.set_box_aspect((1, 1, 1))
ax.set_axis_off()
ax.legend(loc="upper left")
ax.set_title("Rock-salt unit cell")
plt.savefig("diagram.png", dpi=100, bbox_inches="tight")
