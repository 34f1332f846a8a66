"""Regular hexagon of side 4 with its apothem and one interior angle."""
import numpy as np
import matplotlib.pyplot as plt
from matplotlib.patches import Arc, RegularPolygon

fig, ax = plt.subplots(figsize=(6, 6))
ax.add_patch(RegularPolygon((0, 0), numVertices=6, radius=4, orientation=np.pi / 6, fill=False, lw=2))
vertices = [(4 * np.cos(np.pi / 3 * k), 4 * np.sin(np.pi / 3 * k)) for k in range(6)]
for k, (x, y) in enumerate(vertices):
    ax.text(x * 1.12, y * 1.12, "ABCDEF"[k], ha="center", va="center", fontsize=14)
midpoint = ((vertices[0][0] + vertices[1][0]) / 2, (vertices[0][1] + vertices[1][1]) / 2)
ax.plot([0, midpoint[0]], [0, midpoint[1]], "k--")
ax.text(midpoint[0] / 2 - 0.6, midpoint[1] / 2 + 0.1, "a", fontsize=13)
ax.text((vertices[0][0] + vertices[1][0]) / 2 + 0.3, (vertices[0][1] + vertices[1][1]) / 2 + 0.3, "4", fontsize=13)
ax.add_patch(Arc(vertices[2], 1.2, 1.2, theta1=240, theta2=360))
ax.text(vertices[2][0] + 0.5, vertices[2][1] - 0.7, r"$120^\circ$", fontsize=12)
ax.plot(0, 0, "ko", markersize=3)
ax.text(0.15, -0.35, "O", fontsize=12)
ax.set_xlim(-5, 5)
ax.set_ylim(-5, 5)
ax.set_aspect("equal")
ax.axis("off")
plt.savefig("diagram.png", dpi=100, bbox_inches="tight")
