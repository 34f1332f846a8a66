"""Punnett square for a cross of two heterozygous pea plants (Yy x Yy)."""
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(5, 5))
gametes = ["Y", "y"]
for i, row in enumerate(gametes):
    for j, column in enumerate(gametes):
        genotype = "".join(sorted(row + column))
        color = "gold" if "Y" in genotype else "yellowgreen"
        ax.add_patch(plt.Rectangle((j, 1 - i), 1, 1, facecolor=color, edgecolor="black", lw=2))
        ax.text(j + 0.5, 1.5 - i, genotype, ha="center", va="center", fontsize=20)
for k, gamete in enumerate(gametes):
    ax.text(k + 0.5, 2.2, gamete, ha="center", fontsize=18, fontweight="bold")
    ax.text(-0.25, 1.5 - k, gamete, va="center", fontsize=18, fontweight="bold")
ax.text(1, 2.6, "parent 1 (Yy)", ha="center", fontsize=12)
ax.text(-0.6, 1, "parent 2 (Yy)", rotation=90, va="center", fontsize=12)
ax.set_xlim(-0.9, 2.2)
ax.set_ylim(-0.2, 2.9)
ax.set_aspect("equal")
ax.axis("off")
plt.savefig("diagram.png", dpi=100, bbox_inches="tight")
