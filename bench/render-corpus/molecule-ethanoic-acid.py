"""Displayed formula of ethanoic acid, CH3COOH."""
import matplotlib.pyplot as plt

atoms = {
    "C1": (0, 0, "C"), "C2": (1.5, 0, "C"), "O1": (2.25, 1.3, "O"), "O2": (2.25, -1.3, "O"),
    "H1": (-1.2, 0, "H"), "H2": (0, 1.2, "H"), "H3": (0, -1.2, "H"), "H4": (3.45, -1.3, "H"),
}
bonds = [("C1", "C2", 1), ("C2", "O1", 2), ("C2", "O2", 1), ("C1", "H1", 1), ("C1", "H2", 1), ("C1", "H3", 1), ("O2", "H4", 1)]
colors = {"C": "black", "O": "tab:red", "H": "gray"}
fig, ax = plt.subplots(figsize=(6, 4))
for first, second, order in bonds:
    (x0, y0, _), (x1, y1, _) = atoms[first], atoms[second]
    if order == 2:
        dx, dy = (y1 - y0) * 0.06, -(x1 - x0) * 0.06
        ax.plot([x0 + dx, x1 + dx], [y0 + dy, y1 + dy], color="black", lw=1.8)
        ax.plot([x0 - dx, x1 - dx], [y0 - dy, y1 - dy], color="black", lw=1.8)
    else:
        ax.plot([x0, x1], [y0, y1], color="black", lw=1.8)
for name, (x, y, element) in atoms.items():
    ax.text(x, y, element, ha="center", va="center", fontsize=18, color=colors[element],
            bbox=dict(boxstyle="circle,pad=0.2", fc="white", ec="none"))
ax.set_title("Ethanoic acid (acetic acid)")
ax.set_xlim(-1.8, 4.0)
ax.set_ylim(-1.9, 1.9)
ax.set_aspect("equal")
ax.axis("off")
plt.savefig("diagram.png", dpi=100, bbox_inches="tight")
