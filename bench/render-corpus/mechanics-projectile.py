"""Projectile launched at 20 m/s and 40 degrees from level ground."""
import numpy as np
import matplotlib.pyplot as plt

g = 9.8
v0 = 20.0
angle = np.radians(40)
t_flight = 2 * v0 * np.sin(angle) / g
t = np.linspace(0, t_flight, 200)
x = v0 * np.cos(angle) * t
y = v0 * np.sin(angle) * t - 0.5 * g * t ** 2

fig, ax = plt.subplots(figsize=(8, 4.5))
ax.plot(x, y, color="tab:blue", lw=2, label="trajectory")
ax.annotate("", xy=(6 * np.cos(angle), 6 * np.sin(angle)), xytext=(0, 0),
            arrowprops=dict(arrowstyle="-|>", color="darkred", lw=2))
ax.text(2.2, 3.2, r"$v_0 = 20\ \mathrm{m/s}$", fontsize=12, color="darkred")
ax.text(2.4, 0.5, r"$40^\circ$", fontsize=12)
x_peak = x[np.argmax(y)]
ax.plot([x_peak, x_peak], [0, y.max()], "k--", lw=1)
ax.text(x_peak + 0.5, y.max() / 2, r"$H$", fontsize=13)
ax.annotate("", xy=(x[-1], -0.6), xytext=(0, -0.6), arrowprops=dict(arrowstyle="<->"))
ax.text(x[-1] / 2, -1.3, r"$R$", ha="center", fontsize=13)
ax.axhline(0, color="black", lw=1)
ax.set_xlabel("horizontal distance (m)")
ax.set_ylabel("height (m)")
ax.set_ylim(-2, y.max() + 2)
ax.grid(alpha=0.3)
ax.legend(loc="upper right")
plt.savefig("diagram.png", dpi=100, bbox_inches="tight")
