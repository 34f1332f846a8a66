"""Velocity-time graph of a trip: accelerate, cruise, brake."""
import matplotlib.pyplot as plt

t = [0, 4, 10, 13]
v = [0, 12, 12, 0]
fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(t, v, marker="o", lw=2)
ax.fill_between(t, v, alpha=0.15)
ax.text(2.4, 4, "A", fontsize=13)
ax.text(7, 6, "B", fontsize=13)
ax.text(11, 4, "C", fontsize=13)
ax.annotate(r"$a = 3\ \mathrm{m/s^2}$", xy=(2, 6), xytext=(0.3, 9), arrowprops=dict(arrowstyle="->"))
ax.set_xlabel("time (s)")
ax.set_ylabel("velocity (m/s)")
ax.set_xlim(0, 14)
ax.set_ylim(0, 15)
ax.set_xticks(range(0, 15, 1))
ax.grid(alpha=0.3)
ax.set_title("Find the total distance travelled")
plt.savefig("diagram.png", dpi=100, bbox_inches="tight")
