"""Area between y = x^2 and y = 2x, shaded."""
import numpy as np
import matplotlib.pyplot as plt

x = np.linspace(-0.5, 2.5, 300)
fig, ax = plt.subplots(figsize=(6, 5))
ax.plot(x, x ** 2, lw=2, label=r"$y = x^2$")
ax.plot(x, 2 * x, lw=2, label=r"$y = 2x$")
between = np.linspace(0, 2, 200)
ax.fill_between(between, between ** 2, 2 * between, color="tab:green", alpha=0.3)
ax.text(1.0, 1.4, r"$A$", fontsize=16, ha="center")
for point in [(0, 0), (2, 4)]:
    ax.plot(*point, "ko")
ax.annotate("(2, 4)", xy=(2, 4), xytext=(1.4, 4.6), fontsize=11, arrowprops=dict(arrowstyle="->"))
ax.axhline(0, color="black", lw=0.8)
ax.axvline(0, color="black", lw=0.8)
ax.set_xlim(-0.5, 2.5)
ax.set_ylim(-1, 5.5)
ax.set_xlabel("x")
ax.set_ylabel("y")
ax.legend(loc="upper left")
ax.grid(alpha=0.3)
plt.savefig("diagram.png", dpi=100, bbox_inches="tight")
