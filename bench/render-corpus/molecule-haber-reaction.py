"""Reaction scheme for the Haber process with conditions over the arrow."""
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(9, 2.5))
ax.text(0.5, 1, r"N$_2$(g)", fontsize=18, ha="center", va="center")
ax.text(1.3, 1, "+", fontsize=18, ha="center", va="center")
ax.text(2.2, 1, r"3 H$_2$(g)", fontsize=18, ha="center", va="center")
ax.annotate("", xy=(5.2, 1.08), xytext=(3.2, 1.08), arrowprops=dict(arrowstyle="-|>", lw=1.5))
ax.annotate("", xy=(3.2, 0.92), xytext=(5.2, 0.92), arrowprops=dict(arrowstyle="-|>", lw=1.5))
ax.text(4.2, 1.45, "Fe catalyst, 450 °C", ha="center", fontsize=11)
ax.text(4.2, 0.5, "200 atm", ha="center", fontsize=11)
ax.text(6.2, 1, r"2 NH$_3$(g)", fontsize=18, ha="center", va="center")
ax.text(8.2, 1, r"$\Delta H = -92\ \mathrm{kJ\,mol^{-1}}$", fontsize=13, ha="center", va="center")
ax.set_xlim(0, 9.5)
ax.set_ylim(0.2, 1.8)
ax.axis("off")
plt.savefig("diagram.png", dpi=100, bbox_inches="tight")
