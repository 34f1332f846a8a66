"""The zygote's warm-up: the imports and drawing a diagram script commonly needs, done before forking.

Imported by zygote.py; matplotlib is imported only when warm_up runs, after the zygote has set up
matplotlib's config directory.
"""

import io

WARM_MODULES = [
    "numpy.linalg", "matplotlib.patches", "matplotlib.lines", "matplotlib.collections",
    "matplotlib.patheffects", "matplotlib.transforms", "matplotlib.path", "matplotlib.colors",
    "matplotlib.cm", "matplotlib.gridspec", "matplotlib.ticker", "matplotlib.table",
    "matplotlib.offsetbox", "matplotlib.image", "matplotlib.markers", "matplotlib.mathtext",
    "matplotlib.animation", "matplotlib.dates", "mpl_toolkits.mplot3d", "mpl_toolkits.mplot3d.art3d",
]


def warm_up(harness, dpi):
    """Imports and draws what diagram scripts commonly use, so each forked job finds it ready."""
    import importlib

    for name in WARM_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    import matplotlib.patches as patches
    import matplotlib.pyplot as pyplot
    import numpy

    figure = pyplot.figure(figsize=(6, 4))
    axes = figure.add_subplot(1, 2, 1)
    x = numpy.linspace(0, 2 * numpy.pi, 50)
    axes.plot(x, numpy.sin(x), label=r"$\sin\theta$")
    axes.scatter(x[::10], numpy.cos(x[::10]), marker="o")
    axes.add_patch(patches.Circle((1, 0), 0.3, fill=False))
    axes.add_patch(patches.Rectangle((2, -0.5), 1, 0.5, color="tab:blue", alpha=0.3))
    axes.add_patch(patches.Polygon([[4, 0], [5, 0], [4.5, 0.8]], closed=True, fill=False))
    axes.add_patch(patches.FancyArrowPatch((0, 0), (1, 1), arrowstyle="-|>", mutation_scale=12))
    axes.annotate(r"$F = \frac{mv^2}{r}$", xy=(3, 0.5), xytext=(4, 0.9), arrowprops={"arrowstyle": "->"})
    axes.text(0.5, -0.8, "m = 2 kg", fontsize=11, bbox={"boxstyle": "round", "fc": "w"})
    axes.set_title("warm-up")
    axes.set_xlabel("x (m)")
    axes.legend()
    solid = figure.add_subplot(1, 2, 2, projection="3d")
    solid.plot([0, 1, 1, 0, 0], [0, 0, 1, 1, 0], [0, 0, 0, 0, 0])
    solid.text(0.5, 0.5, 1, "A")
    harness.save_png(figure, io.BytesIO(), dpi)
    pyplot.close("all")
    harness.reset_capture()
