"""LC circuit after the switch closes, with energy exchange plot."""
import numpy as np
import matplotlib.pyplot as plt

fig, (circuit, energy) = plt.subplots(1, 2, figsize=(10, 4))
circuit.plot([0, 0, 3, 3, 0], [0, 2, 2, 0, 0], color="black", lw=1.5)
theta = np.linspace(0, np.pi, 30)
for i in range(4):
    circuit.plot(3 + 0.2 * np.sin(theta), 0.4 + 0.3 * i + 0.15 * (1 - np.cos(theta)), color="black", lw=1.5)
circuit.plot([3, 3], [0.4, 1.6], color="white", lw=3, zorder=0)
circuit.text(3.4, 1.0, r"$L = 25\,\mathrm{mH}$", va="center", fontsize=12)
circuit.plot([-0.3, 0.3], [1.08, 1.08], color="black", lw=2)
circuit.plot([-0.3, 0.3], [0.92, 0.92], color="black", lw=2)
circuit.text(-0.4, 1.0, r"$C = 4\,\mu\mathrm{F}$", ha="right", va="center", fontsize=12)
circuit.text(1.5, 2.25, "switch closed at t = 0", ha="center", fontsize=10)
circuit.set_xlim(-2.5, 5.5)
circuit.set_ylim(-0.5, 2.8)
circuit.set_aspect("equal")
circuit.axis("off")
omega = 1 / np.sqrt(25e-3 * 4e-6)
t = np.linspace(0, 4 * np.pi / omega, 400)
energy.plot(t * 1e3, np.cos(omega * t) ** 2, label="electric (capacitor)")
energy.plot(t * 1e3, np.sin(omega * t) ** 2, label="magnetic (inductor)")
energy.set_xlabel("t (ms)")
energy.set_ylabel(r"energy / $U_0$")
energy.legend(loc="lower right", fontsize=9)
energy.grid(alpha=0.3)
plt.savefig("diagram.png", dpi=100, bbox_inches="tight")
