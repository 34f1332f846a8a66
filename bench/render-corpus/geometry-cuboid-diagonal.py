"""Cuboid 4 x 3 x 2 with its space diagonal AG."""
import itertools
import matplotlib.pyplot as plt

a, b, c = 4, 3, 2
vertices = {
    "A": (0, 0, 0), "B": (a, 0, 0), "C": (a, b, 0), "D": (0, b, 0),
    "E": (0, 0, c), "F": (a, 0, c), "G": (a, b, c), "H": (0, b, c),
}
fig = plt.figure(figsize=(7, 6))
ax = fig.add_subplot(projection="3d")
for (n1, p1), (n2, p2) in itertools.combinations(vertices.items(), 2):
    if sum(x != y for x, y in zip(p1, p2)) == 1:
        hidden = "D" in (n1, n2)
        ax.plot(*zip(p1, p2), color="gray" if hidden else "black", ls="--" if hidden else "-", lw=1.5)
ax.plot(*zip(vertices["A"], vertices["G"]), color="tab:red", lw=2.5)
for name, (x, y, z) in vertices.items():
    ax.text(x, y, z + 0.15, name, fontsize=13)
ax.text(a / 2, -0.6, 0, "4 cm", fontsize=11)
ax.text(a + 0.3, b / 2, 0, "3 cm", fontsize=11)
ax.text(a + 0.3, 0, c / 2, "2 cm", fontsize=11)
ax.set_box_aspect((a, b, c))
ax.view_init(elev=20, azim=-60)
ax.set_axis_off()
ax.set_title("Find the length of the space diagonal AG")
plt.savefig("diagram.png", dpi=100, bbox_inches="tight")
