"""Electricity generation mix as a pie chart."""
import matplotlib.pyplot as plt

sources = ["coal", "natural gas", "nuclear", "wind", "solar", "hydro"]
shares = [19, 38, 15, 12, 8, 8]
fig, ax = plt.subplots(figsize=(6, 6))
wedges, texts, autotexts = ax.pie(shares, labels=sources, autopct="%1.0f%%", startangle=90,
                                  explode=[0, 0.05, 0, 0, 0, 0], pctdistance=0.75)
for text in autotexts:
    text.set_color("white")
ax.set_title("Electricity generation, 2023")
ax.axis("equal")
plt.savefig("diagram.png", dpi=100, bbox_inches="tight")
