"""A pond food web: arrows point from food to feeder."""
import matplotlib.pyplot as plt

positions = {
    "algae": (0, 0), "pondweed": (3, 0), "mayfly larva": (-0.5, 1.6), "water flea": (1.5, 1.6),
    "snail": (3.5, 1.6), "frog": (0.5, 3.2), "stickleback": (2.8, 3.2), "heron": (1.6, 4.8),
}
eats = [("algae", "mayfly larva"), ("algae", "water flea"), ("pondweed", "snail"), ("algae", "snail"),
        ("mayfly larva", "frog"), ("water flea", "stickleback"), ("snail", "stickleback"),
        ("frog", "heron"), ("stickleback", "heron")]
fig, ax = plt.subplots(figsize=(7, 6))
for food, feeder in eats:
    ax.annotate("", xy=positions[feeder], xytext=positions[food],
                arrowprops=dict(arrowstyle="-|>", color="tab:green", lw=1.5, shrinkA=14, shrinkB=14))
for name, (x, y) in positions.items():
    ax.text(x, y, name, ha="center", va="center", fontsize=11, bbox=dict(boxstyle="round", fc="honeydew", ec="darkgreen"))
ax.set_xlim(-1.5, 4.5)
ax.set_ylim(-0.6, 5.4)
ax.axis("off")
ax.set_title("Pond food web")
plt.savefig("diagram.png", dpi=100, bbox_inches="tight")
