"""DE parallel to BC in triangle ABC: similar triangles ADE and ABC."""
import numpy as np
import matplotlib.pyplot as plt

A, B, C = np.array([2.0, 5.0]), np.array([0.0, 0.0]), np.array([7.0, 0.0])
ratio = 0.4
D, E = A + ratio * (B - A), A + ratio * (C - A)
fig, ax = plt.subplots(figsize=(7, 5))
ax.fill(*zip(A, D, E), color="tab:orange", alpha=0.25)
ax.plot(*zip(A, B, C, A), color="black", lw=1.8)
ax.plot(*zip(D, E), color="tab:blue", lw=2)
for point, name, offset in [(A, "A", (0, 0.2)), (B, "B", (-0.35, -0.3)), (C, "C", (0.15, -0.3)), (D, "D", (-0.45, 0)), (E, "E", (0.15, 0.05))]:
    ax.plot(*point, "ko", markersize=4)
    ax.text(point[0] + offset[0], point[1] + offset[1], name, fontsize=14)
ax.text(*(A + B) / 2 + (-0.9, 0.3), "AD = 2.4", fontsize=11)
ax.text(*(D + B) / 2 + (-0.9, -0.3), "DB = 3.6", fontsize=11)
ax.text(3.5, -0.5, "BC = 7", ha="center", fontsize=12)
ax.text(*(D + E) / 2 + (0, 0.2), "DE = ?", ha="center", fontsize=12, color="tab:blue")
ax.text(5.0, 3.5, r"$DE \parallel BC$", fontsize=13)
ax.set_aspect("equal")
ax.set_xlim(-1, 8)
ax.set_ylim(-1, 5.8)
ax.axis("off")
plt.savefig("diagram.png", dpi=100, bbox_inches="tight")
