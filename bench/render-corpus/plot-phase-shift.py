"""Two sinusoids with a phase difference of pi/3."""
import numpy as np
import matplotlib.pyplot as plt

t = np.linspace(0, 4 * np.pi, 600)
fig, ax = plt.subplots(figsize=(9, 3.5))
ax.plot(t, 2 * np.sin(t), label=r"$y_1 = 2\sin\omega t$")
ax.plot(t, 2 * np.sin(t - np.pi / 3), label=r"$y_2 = 2\sin(\omega t - \pi/3)$", ls="--")
ax.annotate("", xy=(np.pi / 2 + np.pi / 3, 2.15), xytext=(np.pi / 2, 2.15), arrowprops=dict(arrowstyle="<->"))
ax.text(np.pi / 2 + np.pi / 6, 2.35, r"$\Delta\phi = \pi/3$", ha="center", fontsize=11)
ax.set_xticks(np.arange(0, 4 * np.pi + 0.1, np.pi / 2))
ax.set_xticklabels(["0", r"$\pi/2$", r"$\pi$", r"$3\pi/2$", r"$2\pi$", r"$5\pi/2$", r"$3\pi$", r"$7\pi/2$", r"$4\pi$"])
ax.set_ylim(-2.7, 3)
ax.set_xlabel(r"$\omega t$")
ax.set_ylabel("displacement (cm)")
ax.legend(loc="lower left", ncol=2, fontsize=9)
ax.grid(alpha=0.3)
plt.savefig("diagram.png", dpi=100, bbox_inches="tight")
