"""Benzene: Kekule structure with hydrogens, and the delocalised ring."""
import numpy as np
import matplotlib.pyplot as plt
from matplotlib.patches import Circle

fig, (kekule, ring) = plt.subplots(1, 2, figsize=(9, 4.5))
angles = np.radians(np.arange(90, 450, 60))
carbons = np.column_stack([np.cos(angles), np.sin(angles)])
for ax in (kekule, ring):
    for k in range(6):
        first, second = carbons[k], carbons[(k + 1) % 6]
        ax.plot(*zip(first, second), color="black", lw=2)
for k in range(0, 6, 2):
    first, second = carbons[k] * 0.8, carbons[(k + 1) % 6] * 0.8
    kekule.plot(*zip(first, second), color="black", lw=2)
for point in carbons:
    kekule.plot(*zip(point, point * 1.6), color="black", lw=1.5)
    kekule.text(*(point * 1.8), "H", ha="center", va="center", fontsize=14)
    kekule.text(*(point * 1.0), "C", ha="center", va="center", fontsize=13, bbox=dict(fc="white", ec="none", pad=1))
ring.add_patch(Circle((0, 0), 0.55, fill=False, lw=2))
kekule.set_title(r"Kekulé structure, C$_6$H$_6$")
ring.set_title("delocalised representation")
for ax in (kekule, ring):
    ax.set_xlim(-2.1, 2.1)
    ax.set_ylim(-2.1, 2.1)
    ax.set_aspect("equal")
    ax.axis("off")
plt.savefig("diagram.png", dpi=100, bbox_inches="tight")
