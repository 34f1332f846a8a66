"""Titration of 25 mL 0.1 M acetic acid with 0.1 M NaOH."""
import numpy as np
import matplotlib.pyplot as plt

ka = 1.8e-5
volume_acid, concentration = 25.0, 0.1
added = np.linspace(0.01, 50, 500)
moles_acid = volume_acid * concentration / 1000
moles_base = added * concentration / 1000
total = (volume_acid + added) / 1000
ph = np.empty_like(added)
before = moles_base < moles_acid
ph[before] = -np.log10(ka) + np.log10(moles_base[before] / (moles_acid - moles_base[before]))
excess = (moles_base[~before] - moles_acid) / total[~before]
ph[~before] = 14 + np.log10(np.maximum(excess, 1e-6))
fig, ax = plt.subplots(figsize=(7, 5))
ax.plot(added, ph, lw=2)
ax.axvline(25, ls="--", color="gray")
ax.axhline(-np.log10(ka), ls=":", color="gray")
ax.annotate("equivalence point\n(25.0 mL)", xy=(25, 8.7), xytext=(30, 6), arrowprops=dict(arrowstyle="->"))
ax.annotate(r"half-equivalence: pH = p$K_a$ = 4.74", xy=(12.5, 4.74), xytext=(14, 2.5), arrowprops=dict(arrowstyle="->"))
ax.set_xlabel("volume of NaOH added (mL)")
ax.set_ylabel("pH")
ax.set_xlim(0, 50)
ax.set_ylim(0, 14)
ax.grid(alpha=0.3)
ax.set_title("Weak acid - strong base titration")
plt.savefig("diagram.png", dpi=100, bbox_inches="tight")
