"""Water molecule: bent shape, bond angle and lone pairs."""
import numpy as np
import matplotlib.pyplot as plt
from matplotlib.patches import Arc, Circle, Ellipse

half_angle = np.radians(104.5 / 2)
oxygen = np.array([0.0, 0.0])
hydrogens = [np.array([np.sin(s * half_angle), -np.cos(s * half_angle)]) * 2.0 for s in (-1, 1)]
fig, ax = plt.subplots(figsize=(5, 5))
for hydrogen in hydrogens:
    ax.plot(*zip(oxygen, hydrogen), color="black", lw=3, zorder=1)
    ax.add_patch(Circle(hydrogen, 0.35, color="lightgray", ec="black", zorder=2))
    ax.text(*hydrogen, "H", ha="center", va="center", fontsize=14, zorder=3)
ax.add_patch(Circle(oxygen, 0.5, color="tab:red", ec="black", zorder=2))
ax.text(*oxygen, "O", ha="center", va="center", fontsize=16, color="white", zorder=3)
for sign in (-1, 1):
    ax.add_patch(Ellipse((0.45 * sign, 0.75), 0.35, 0.6, angle=-25 * sign, fill=False, ls="--", color="tab:blue"))
ax.text(0, 1.35, "lone pairs", ha="center", fontsize=10, color="tab:blue")
ax.add_patch(Arc(oxygen, 1.6, 1.6, theta1=270 - 52.25, theta2=270 + 52.25))
ax.text(0, -1.1, r"$104.5^\circ$", ha="center", fontsize=12)
ax.text(1.4, -0.7, "96 pm", fontsize=11)
ax.set_xlim(-2.3, 2.3)
ax.set_ylim(-2.3, 1.8)
ax.set_aspect("equal")
ax.axis("off")
plt.savefig("diagram.png", dpi=100, bbox_inches="tight")
