"""Voltage divider feeding a load, drawn with schemdraw-like primitives."""
import numpy as np
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(5, 6))


def vertical_resistor(x, y_top, y_bottom, label):
    ys = np.linspace(y_top - 0.3, y_bottom + 0.3, 13)
    xs = x + 0.18 * np.array([0, 1, -1] * 4 + [0])
    ax.plot([x, x], [y_top, y_top - 0.3], color="black")
    ax.plot(xs, ys, color="black", lw=1.5)
    ax.plot([x, x], [y_bottom + 0.3, y_bottom], color="black")
    ax.text(x + 0.4, (y_top + y_bottom) / 2, label, va="center", fontsize=12)


ax.plot([0, 2], [5, 5], color="black")
vertical_resistor(2, 5, 3, r"$R_1 = 2\,\mathrm{k}\Omega$")
vertical_resistor(2, 3, 1, r"$R_2 = 1\,\mathrm{k}\Omega$")
ax.plot([2, 0], [1, 1], color="black")
ax.plot([0, 0], [1, 2.7], color="black")
ax.plot([0, 0], [3.3, 5], color="black")
ax.plot([-0.35, 0.35], [3.3, 3.3], color="black", lw=2)
ax.plot([-0.18, 0.18], [2.7, 2.7], color="black", lw=4)
ax.text(-0.5, 3.0, r"$V_{in} = 15\,\mathrm{V}$", ha="right", va="center", fontsize=12)
ax.plot([2, 3.5], [3, 3], color="black")
ax.plot(3.5, 3, "o", mfc="white", mec="black")
ax.plot([2, 3.5], [1, 1], color="black")
ax.plot(3.5, 1, "o", mfc="white", mec="black")
ax.annotate("", xy=(3.7, 1.1), xytext=(3.7, 2.9), arrowprops=dict(arrowstyle="<->"))
ax.text(3.9, 2.0, r"$V_{out}$", va="center", fontsize=13)
ax.plot(2, 3, "o", color="black")
ax.set_xlim(-3, 5)
ax.set_ylim(0.5, 5.5)
ax.set_aspect("equal")
ax.axis("off")
plt.savefig("diagram.png", dpi=100, bbox_inches="tight")
