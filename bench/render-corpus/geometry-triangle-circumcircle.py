"""Triangle ABC with its circumcircle and circumcentre O."""
import numpy as np
import matplotlib.pyplot as plt
from matplotlib.patches import Circle, Polygon

A, B, C = np.array([0.0, 0.0]), np.array([6.0, 0.0]), np.array([2.0, 4.0])
d = 2 * (A[0] * (B[1] - C[1]) + B[0] * (C[1] - A[1]) + C[0] * (A[1] - B[1]))
ux = ((A @ A) * (B[1] - C[1]) + (B @ B) * (C[1] - A[1]) + (C @ C) * (A[1] - B[1])) / d
uy = ((A @ A) * (C[0] - B[0]) + (B @ B) * (A[0] - C[0]) + (C @ C) * (B[0] - A[0])) / d
O = np.array([ux, uy])
radius = np.linalg.norm(A - O)
fig, ax = plt.subplots(figsize=(6, 6))
ax.add_patch(Circle(O, radius, fill=False, lw=1.5, color="tab:blue"))
ax.add_patch(Polygon([A, B, C], closed=True, fill=False, lw=2))
for point, name, offset in [(A, "A", (-0.4, -0.3)), (B, "B", (0.2, -0.3)), (C, "C", (0, 0.25)), (O, "O", (0.15, 0.1))]:
    ax.plot(*point, "ko", markersize=4)
    ax.text(point[0] + offset[0], point[1] + offset[1], name, fontsize=14)
ax.plot([O[0], A[0]], [O[1], A[1]], "k--", lw=1)
ax.text((O[0] + A[0]) / 2 - 0.5, (O[1] + A[1]) / 2, r"$R$", fontsize=13)
ax.text(3, -0.5, "AB = 6", ha="center", fontsize=12)
ax.text(0.6, 2.2, r"AC = $2\sqrt{5}$", fontsize=12, rotation=63)
ax.set_xlim(O[0] - radius - 0.5, O[0] + radius + 0.5)
ax.set_ylim(O[1] - radius - 0.5, O[1] + radius + 0.5)
ax.set_aspect("equal")
ax.axis("off")
plt.savefig("diagram.png", dpi=100, bbox_inches="tight")
