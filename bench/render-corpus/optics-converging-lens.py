"""Ray diagram: object outside 2F of a converging lens."""
import matplotlib.pyplot as plt
from matplotlib.patches import Ellipse

f = 2.0
object_distance, object_height = 5.0, 1.5
image_distance = 1 / (1 / f - 1 / object_distance)
image_height = -object_height * image_distance / object_distance
fig, ax = plt.subplots(figsize=(9, 4))
ax.axhline(0, color="black", lw=1)
ax.add_patch(Ellipse((0, 0), 0.4, 4.2, fill=False, lw=2, color="tab:blue"))
for x in (-f, f, -2 * f, 2 * f):
    ax.plot(x, 0, "k|", markersize=10)
ax.text(-f, -0.4, "F", ha="center")
ax.text(f, -0.4, "F'", ha="center")
ax.text(-2 * f, -0.4, "2F", ha="center")
ax.text(2 * f, -0.4, "2F'", ha="center")
ax.annotate("", xy=(-object_distance, object_height), xytext=(-object_distance, 0), arrowprops=dict(arrowstyle="-|>", lw=2))
ax.annotate("", xy=(image_distance, image_height), xytext=(image_distance, 0), arrowprops=dict(arrowstyle="-|>", lw=2, color="gray"))
ax.plot([-object_distance, 0, image_distance], [object_height, object_height, image_height], color="tab:red")
ax.plot([-object_distance, image_distance], [object_height, image_height], color="tab:orange")
ax.text(-object_distance, object_height + 0.25, "object", ha="center")
ax.text(image_distance, image_height - 0.4, "image", ha="center")
ax.set_xlim(-6, 6)
ax.set_ylim(-2.5, 2.5)
ax.axis("off")
plt.savefig("diagram.png", dpi=100, bbox_inches="tight")
