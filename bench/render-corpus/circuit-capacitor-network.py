"""Three capacitors: C1 in series with the parallel pair C2, C3."""
import matplotlib.pyplot as plt


def capacitor(ax, x, y, vertical=False, label="", label_offset=(0.5, 0)):
    if vertical:
        ax.plot([x - 0.3, x + 0.3], [y + 0.08, y + 0.08], color="black", lw=2)
        ax.plot([x - 0.3, x + 0.3], [y - 0.08, y - 0.08], color="black", lw=2)
    else:
        ax.plot([x - 0.08, x - 0.08], [y - 0.3, y + 0.3], color="black", lw=2)
        ax.plot([x + 0.08, x + 0.08], [y - 0.3, y + 0.3], color="black", lw=2)
    ax.text(x + label_offset[0], y + label_offset[1], label, fontsize=12, ha="center", va="center")


fig, ax = plt.subplots(figsize=(7, 4))
ax.plot([0, 1.92], [2, 2], color="black")
ax.plot([2.08, 4], [2, 2], color="black")
capacitor(ax, 2, 2, label=r"$C_1 = 4\,\mu\mathrm{F}$", label_offset=(0, 0.6))
ax.plot([4, 4], [2, 3], color="black")
ax.plot([4, 4], [2, 1], color="black")
ax.plot([4, 5.92], [3, 3], color="black")
ax.plot([6.08, 7], [3, 3], color="black")
capacitor(ax, 6, 3, label=r"$C_2 = 3\,\mu\mathrm{F}$", label_offset=(0, 0.55))
ax.plot([4, 5.92], [1, 1], color="black")
ax.plot([6.08, 7], [1, 1], color="black")
capacitor(ax, 6, 1, label=r"$C_3 = 6\,\mu\mathrm{F}$", label_offset=(0, -0.6))
ax.plot([7, 7], [1, 3], color="black")
ax.plot([7, 8], [2, 2], color="black")
for x, y, name in [(0, 2, "a"), (8, 2, "b")]:
    ax.plot(x, y, "o", mfc="white", mec="black", markersize=8)
    ax.text(x, y - 0.45, name, ha="center", fontsize=13)
ax.text(4, -0.2, r"$V_{ab} = 12\,\mathrm{V}$", ha="center", fontsize=12)
ax.set_xlim(-0.5, 8.5)
ax.set_ylim(-0.6, 4)
ax.set_aspect("equal")
ax.axis("off")
plt.savefig("diagram.png", dpi=100, bbox_inches="tight")
