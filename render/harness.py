"""Runs one untrusted Matplotlib script and saves every figure it made, with what it drew.

Imported by zygote.py, which prepares it once (imports, interactive calls neutralized, one warm-up
drawing by zygote_warm_up.py) and then calls `run_job` in a forked child per job. `run_job` writes
into the job directory figure-N.png (one per figure, creation order) and result.json:
    {"ok": bool,
     "figures": [{"file", "width", "height", "blank", "ink_fraction", "introspection"}],
     "error": {"kind": "exception" | "no-figure" | "blank" | "limit", "message"}}   (only when not ok)

The script runs in this interpreter, so nothing here is a security boundary: the sandbox around
the process is, and the caller treats result.json and the PNGs as untrusted (it re-checks names,
file types and PNG headers). What this file adds is fidelity — the figures the script meant to show
end up as images, however it tried to show or save them — error messages the repair step can act
on, and introspection: every text drawn, with its box, and where labels overlap each other or the
lines and shapes around them.
"""

import errno
import json
import math
import os
import runpy
import sys
import traceback

# Headless whatever the environment says, before matplotlib reads it.
os.environ["MPLBACKEND"] = "Agg"

import matplotlib

matplotlib.use("Agg", force=True)

import matplotlib.backends.backend_agg as backend_agg
import matplotlib.figure
import matplotlib.lines
import matplotlib.patches
import matplotlib.pyplot as pyplot
import matplotlib.text
import numpy
from matplotlib.transforms import Bbox

MAX_FIGURES = 16
# Below this share of pixels differing from the background a figure is considered blank: an empty
# canvas, or one with a stray dot. A sparse line diagram (an incline, three force arrows, axes off)
# is about 0.3%; a single short line at 150 dpi is still above this.
BLANK_INK_FRACTION = 0.0002
# Traceback text kept for the repair step: the end is where the cause is.
MAX_ERROR_CHARACTERS = 3000
# Introspection is bounded so result.json stays small whatever the script draws.
MAX_TEXTS_PER_FIGURE = 400
MAX_OVERLAPS_PER_FIGURE = 200
MAX_TEXT_CHARACTERS = 200
# Two boxes overlap when they share at least this many pixels in each direction: touching edges
# and anti-aliasing fringes are not an overlap a reader notices.
MIN_OVERLAP_PIXELS = 1.5

settings = {"max_image_side": 8192, "address_space_bytes": 2 * 1024**3, "processes": 64}


class FigureLimitExceeded(Exception):
    """Raised inside the script when it creates more figures than the harness will keep."""


class Capture:
    """Every figure the script created, kept alive from the moment it was constructed."""

    def __init__(self):
        self.figures = []
        self.created = 0


capture = Capture()
original_figure_init = matplotlib.figure.Figure.__init__
original_savefig = matplotlib.figure.Figure.savefig
original_draw_text = backend_agg.RendererAgg.draw_text


class DrawRecorder:
    """The text artists the renderer actually drew during the harness's own savefig."""

    def __init__(self):
        self.active = False
        self.texts = {}

    def start(self):
        self.active = True
        self.texts = {}

    def stop(self):
        self.active = False
        self.texts = {}


recorder = DrawRecorder()


def capturing_figure_init(figure, *arguments, **keyword_arguments):
    # Hooking construction, rather than pyplot's figure registry or savefig, sees every figure
    # whichever API made it (pyplot, subplots, Figure() with its own canvas, subclasses) and keeps a
    # reference that plt.close(), `del fig` or a function returning cannot drop.
    original_figure_init(figure, *arguments, **keyword_arguments)
    capture.created += 1
    if capture.created > MAX_FIGURES:
        raise FigureLimitExceeded(
            f"the script created more than {MAX_FIGURES} figures; draw the diagram in one figure"
        )
    capture.figures.append(figure)


def savefig_without_writing(figure, fname=None, *arguments, **keyword_arguments):
    # The harness saves every figure itself at the requested dpi; writing the script's own copy
    # would only cost time and put files wherever the script pointed. File-like targets still work
    # so a script that renders into memory and reads the bytes back keeps running.
    if fname is not None and hasattr(fname, "write"):
        return original_savefig(figure, fname, *arguments, **keyword_arguments)
    return None


def pyplot_savefig_without_redraw(*arguments, **keyword_arguments):
    # pyplot.savefig redraws the whole canvas after saving; with nothing saved that is wasted time.
    return pyplot.gcf().savefig(*arguments, **keyword_arguments)


def recording_draw_text(renderer, gc, x, y, text, prop, angle, ismath=False, mtext=None):
    # The renderer is the one place that sees exactly the texts drawn: tick labels outside the
    # view, invisible or empty texts never reach it. A multi-line text arrives once per line.
    if recorder.active and mtext is not None:
        recorder.texts[id(mtext)] = mtext
    return original_draw_text(renderer, gc, x, y, text, prop, angle, ismath=ismath, mtext=mtext)


def do_nothing(*arguments, **keyword_arguments):
    return None


def prepare():
    """Neutralizes interactive calls and hooks figure creation; once per process, before forking."""
    # Resolve the backend now: pyplot resolves it lazily through switch_backend, replaced below.
    pyplot.switch_backend("agg")
    matplotlib.figure.Figure.__init__ = capturing_figure_init
    matplotlib.figure.Figure.savefig = savefig_without_writing
    pyplot.savefig = pyplot_savefig_without_redraw
    matplotlib.figure.Figure.show = do_nothing
    backend_agg.RendererAgg.draw_text = recording_draw_text
    # A script written for a desktop may ask for TkAgg or Qt; the render is headless either way.
    matplotlib.use = do_nothing
    pyplot.switch_backend = do_nothing
    pyplot.show = do_nothing
    # plt.pause() would sleep (and spin an event loop) in animation-style scripts.
    pyplot.pause = do_nothing


def reset_capture():
    capture.figures = []
    capture.created = 0


def format_syntax_error(error, script_name):
    lines = [f'  File "{script_name}", line {error.lineno}']
    if error.text:
        lines.append("    " + error.text.rstrip("\n").strip())
        if error.offset and error.offset > 0:
            indentation = len(error.text) - len(error.text.lstrip())
            lines.append("    " + " " * max(0, error.offset - 1 - indentation) + "^")
    lines.append(f"{type(error).__name__}: {error.msg}")
    return "\n".join(lines)


def shorten_frames(stack, script_name):
    """Keeps the script's frames and the frame that raised, each named as a reader knows it."""
    # This harness's frames (runpy's call into the script, a hook that raised) are noise for the
    # repair step, and so is everything before the script's first frame.
    frames = [frame for frame in stack if frame.filename != __file__]
    while frames and frames[0].filename != script_name:
        frames.pop(0)
    kept = []
    for position, frame in enumerate(frames):
        is_last = position == len(frames) - 1
        if frame.filename == script_name:
            pass
        elif is_last:
            # Where matplotlib or numpy raised: "matplotlib/axes/_base.py" says enough.
            marker = "site-packages" + os.sep
            if marker in frame.filename:
                frame.filename = frame.filename.split(marker, 1)[1]
        else:
            continue
        kept.append(frame)
    return traceback.StackSummary.from_list(kept)


def format_exception(error, script_name):
    """Exception type, message and the script's lines that led to it, newest last."""
    if isinstance(error, SyntaxError) and error.filename == script_name:
        return format_syntax_error(error, script_name)
    report = traceback.TracebackException.from_exception(error)
    chained = report
    while chained is not None:
        chained.stack = shorten_frames(chained.stack, script_name)
        chained = chained.__cause__ or chained.__context__
    text = "".join(report.format())
    if len(text) > MAX_ERROR_CHARACTERS:
        text = "...\n" + text[-MAX_ERROR_CHARACTERS:]
    return text.rstrip("\n")


def limit_explanation(error):
    """Why an exception means a sandbox limit was reached, or None when it is the script's own bug."""
    if isinstance(error, FigureLimitExceeded):
        return ""
    if isinstance(error, MemoryError):
        gibibytes = settings["address_space_bytes"] / 1024**3
        return f"(the script may use at most {gibibytes:g} GiB of memory)"
    # fork() and thread creation fail with EAGAIN once the slot's uid reaches RLIMIT_NPROC.
    if isinstance(error, BlockingIOError) or (
        isinstance(error, RuntimeError) and "can't start new thread" in str(error)
    ):
        return f"(the script may run at most {settings['processes']} processes and threads)"
    if isinstance(error, OSError) and error.errno == errno.EFBIG:
        return "(files the script writes may be at most the sandbox's file size limit)"
    if isinstance(error, OSError) and error.errno == errno.EMFILE:
        return "(the script may hold at most the sandbox's number of open files)"
    return None


def run_script(script_name):
    """Runs the script as __main__; returns an error record, or None when it completed."""
    try:
        runpy.run_path(script_name, run_name="__main__")
    except SystemExit as exit_request:
        if exit_request.code not in (None, 0):
            return {
                "kind": "exception",
                "message": f"the script called sys.exit({exit_request.code!r})",
            }
    except BaseException as error:  # noqa: BLE001 — KeyboardInterrupt etc. are script failures too
        message = format_exception(error, script_name)
        explanation = limit_explanation(error)
        if explanation:
            message += "\n" + explanation
        return {"kind": "exception" if explanation is None else "limit", "message": message}
    return None


def finite(value, digits=1):
    """A JSON-safe number: NaN and infinities (log axes, empty data) become None."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return round(number, digits) if math.isfinite(number) else None


def short_text(text):
    text = str(text)
    return text if len(text) <= MAX_TEXT_CHARACTERS else text[: MAX_TEXT_CHARACTERS - 1] + "…"


def top_left_box(bbox, canvas_height):
    """[left, top, right, bottom] in image pixels, origin top-left, as a viewer of the PNG reads it."""
    return [
        finite(bbox.x0),
        finite(canvas_height - bbox.y1),
        finite(bbox.x1),
        finite(canvas_height - bbox.y0),
    ]


def all_axes(figure):
    axes = list(figure.axes)
    for subfigure in getattr(figure, "subfigs", []):
        axes.extend(all_axes(subfigure))
    return axes


def figure_level(figure, name):
    artists = list(getattr(figure, name))
    for subfigure in getattr(figure, "subfigs", []):
        artists.extend(figure_level(subfigure, name))
    return artists


def drawn_shapes(figure, axes_list):
    """The lines and shapes a label could collide with: what the script drew, not axis furniture.

    Read from each axes' own lists instead of a walk over every artist, which would visit every
    tick; spines, grid lines, tick marks and legend handles are never in these lists.
    """
    shapes = figure_level(figure, "lines") + figure_level(figure, "patches")
    for axes in axes_list:
        shapes.extend(axes.lines)
        shapes.extend(axes.patches)
        for text in axes.texts:
            arrow = getattr(text, "arrow_patch", None)
            if arrow is not None:
                shapes.append(arrow)
        for table in axes.tables:
            shapes.extend(table.get_celld().values())
    return shapes


def text_roles(figure, axes_list):
    """id(text) -> (role, index of its axes or None)."""
    roles = {}
    for index, axes in enumerate(axes_list):
        for title in (axes.title, getattr(axes, "_left_title", None), getattr(axes, "_right_title", None)):
            if title is not None:
                roles[id(title)] = ("title", index)
        axes_map = getattr(axes, "_axis_map", None) or {"x": axes.xaxis, "y": axes.yaxis}
        for axis in axes_map.values():
            roles[id(axis.label)] = ("axis-label", index)
            roles[id(axis.offsetText)] = ("tick-label", index)
            for tick in list(axis.majorTicks) + list(axis.minorTicks):
                roles[id(tick.label1)] = ("tick-label", index)
                roles[id(tick.label2)] = ("tick-label", index)
        legend = axes.get_legend()
        if legend is not None:
            for text in legend.get_texts() + [legend.get_title()]:
                roles[id(text)] = ("legend", index)
        for table in axes.tables:
            for cell in table.get_celld().values():
                roles[id(cell.get_text())] = ("table", index)
    for legend in figure.legends:
        for text in legend.get_texts() + [legend.get_title()]:
            roles[id(text)] = ("legend", None)
    for name in ("_suptitle", "_supxlabel", "_supylabel"):
        text = getattr(figure, name, None)
        if text is not None:
            roles[id(text)] = ("title" if name == "_suptitle" else "axis-label", None)
    return roles


def describe_artist(artist):
    """A few words a reader of the repair prompt recognizes: "an arrow", "line 'velocity'"."""
    label = artist.get_label() if hasattr(artist, "get_label") else ""
    named = isinstance(label, str) and label and not label.startswith("_")
    if isinstance(artist, matplotlib.lines.Line2D):
        return f"line '{short_text(label)}'" if named else "a line"
    nouns = [
        (matplotlib.patches.FancyArrowPatch, "an arrow"),
        (matplotlib.patches.FancyArrow, "an arrow"),
        (matplotlib.patches.Arrow, "an arrow"),
        (matplotlib.patches.Circle, "a circle"),
        (matplotlib.patches.Ellipse, "an ellipse"),
        (matplotlib.patches.Arc, "an arc"),
        (matplotlib.patches.Wedge, "a wedge"),
        (matplotlib.patches.Rectangle, "a rectangle"),
        (matplotlib.patches.FancyBboxPatch, "a box"),
        (matplotlib.patches.RegularPolygon, "a polygon"),
        (matplotlib.patches.Polygon, "a polygon"),
        (matplotlib.patches.PathPatch, "a shape"),
    ]
    for kind, noun in nouns:
        if isinstance(artist, kind):
            return f"{noun} '{short_text(label)}'" if named else noun
    return "a shape"


def display_path(artist):
    """The artist's outline in display coordinates, or None when it has none worth testing."""
    try:
        if isinstance(artist, matplotlib.lines.Line2D):
            return artist._get_transformed_path().get_fully_transformed_path()
        return artist.get_transform().transform_path(artist.get_path())
    except Exception:  # noqa: BLE001 — a script's custom artist may not support either call
        return None


def shrunk(bbox, amount):
    return Bbox.from_extents(bbox.x0 + amount, bbox.y0 + amount, bbox.x1 - amount, bbox.y1 - amount)


def clipped_to(box, artist):
    """The part of a text box where the artist can be seen at all (lines are clipped to their axes)."""
    if not artist.get_clip_on():
        return box
    clip_box = artist.get_clip_box()
    if clip_box is None:
        return box
    return Bbox.intersection(box, clip_box)


def line_touches(artist, path, box):
    has_line = artist.get_linestyle() not in ("None", "none", "", " ") and artist.get_linewidth() > 0
    if has_line and path.intersects_bbox(box, filled=False):
        return True
    if artist.get_marker() not in (None, "None", "none", "", " "):
        vertices = path.vertices
        inside = (
            (vertices[:, 0] >= box.x0)
            & (vertices[:, 0] <= box.x1)
            & (vertices[:, 1] >= box.y0)
            & (vertices[:, 1] <= box.y1)
        )
        return bool(inside.any())
    return False


def introspect(figure, renderer, texts_drawn):
    """Texts (string, box, role), axes, and overlaps, in the pixels of the PNG being written."""
    height = renderer.height
    axes_list = all_axes(figure)
    axes_index = {id(axes): index for index, axes in enumerate(axes_list)}
    roles = text_roles(figure, axes_list)

    texts = []
    boxes = []
    own_patches = {}
    for text in texts_drawn[:MAX_TEXTS_PER_FIGURE]:
        try:
            box = text.get_window_extent(renderer)
        except Exception:  # noqa: BLE001 — a custom Text subclass may fail outside its draw
            continue
        if not (box.width > 0 and box.height > 0) or not numpy.isfinite(box.extents).all():
            continue
        role, index = roles.get(id(text), (None, None))
        if role is None:
            role = "annotation" if isinstance(text, matplotlib.text.Annotation) else "text"
            index = axes_index.get(id(text.axes)) if text.axes is not None else None
        texts.append(
            {
                "text": short_text(text.get_text()),
                "bbox": top_left_box(box, height),
                "role": role,
                "fontsize": finite(text.get_fontsize()),
                "axes": index,
            }
        )
        boxes.append(box)
        # A label's own frame and its own arrow touch it by design.
        own = [text.get_bbox_patch()]
        if isinstance(text, matplotlib.text.Annotation):
            own.append(text.arrow_patch)
        own_patches[len(texts) - 1] = {id(patch) for patch in own if patch is not None}

    overlaps = []

    def add_overlap(record):
        if len(overlaps) < MAX_OVERLAPS_PER_FIGURE:
            overlaps.append(record)

    extents = numpy.array([box.extents for box in boxes]) if boxes else numpy.zeros((0, 4))
    for first in range(len(boxes)):
        others = extents[first + 1 :]
        if others.size == 0:
            break
        width = numpy.minimum(others[:, 2], extents[first, 2]) - numpy.maximum(others[:, 0], extents[first, 0])
        depth = numpy.minimum(others[:, 3], extents[first, 3]) - numpy.maximum(others[:, 1], extents[first, 1])
        for offset in numpy.nonzero((width >= MIN_OVERLAP_PIXELS) & (depth >= MIN_OVERLAP_PIXELS))[0]:
            second = first + 1 + int(offset)
            add_overlap(
                {
                    "kind": "text-text",
                    "text": first,
                    "other": second,
                    "other_description": f"label '{texts[second]['text']}'",
                    "other_bbox": texts[second]["bbox"],
                    "area": finite(width[offset] * depth[offset]),
                }
            )

    candidates = []
    for artist in drawn_shapes(figure, axes_list):
        if not artist.get_visible():
            continue
        path = display_path(artist)
        if path is None or len(path.vertices) == 0:
            continue
        # Control points bound a curve, so this box holds the whole outline; a gap (NaN) in a
        # plotted line is no point of it.
        with numpy.errstate(invalid="ignore"):
            low = numpy.nanmin(path.vertices, axis=0)
            high = numpy.nanmax(path.vertices, axis=0)
        if not (numpy.isfinite(low).all() and numpy.isfinite(high).all()):
            continue
        candidates.append((artist, path, Bbox([low, high])))

    for index, box in enumerate(boxes):
        # A line that only grazes the edge of a label's box does not cross its letters.
        inner = shrunk(box, 1.0)
        if inner.width <= 0 or inner.height <= 0:
            continue
        for artist, path, bounds in candidates:
            if id(artist) in own_patches[index]:
                continue
            if bounds.x1 < inner.x0 or bounds.x0 > inner.x1 or bounds.y1 < inner.y0 or bounds.y0 > inner.y1:
                continue
            visible = clipped_to(inner, artist)
            if visible is None or visible.width <= 0 or visible.height <= 0:
                continue
            if isinstance(artist, matplotlib.lines.Line2D):
                touches = line_touches(artist, path, visible)
                kind = "text-line"
            else:
                # Only the outline counts: a label written inside a filled block is intended.
                touches = path.intersects_bbox(visible, filled=False)
                kind = "text-patch"
            if touches:
                add_overlap(
                    {
                        "kind": kind,
                        "text": index,
                        "other": None,
                        "other_description": describe_artist(artist),
                        "other_bbox": top_left_box(bounds, height),
                        "area": None,
                    }
                )

    axes_records = []
    for axes in axes_list:
        box = axes.get_window_extent(renderer)
        aspect = axes.get_aspect()
        axes_records.append(
            {
                "bbox": top_left_box(box, height),
                "xlim": [finite(value, 6) for value in axes.get_xlim()],
                "ylim": [finite(value, 6) for value in axes.get_ylim()],
                "axis_on": bool(axes.axison),
                "aspect": aspect if isinstance(aspect, str) else finite(aspect, 6),
                "projection": getattr(axes, "name", "rectilinear"),
                "title": short_text(axes.get_title()),
                "xlabel": short_text(axes.get_xlabel()),
                "ylabel": short_text(axes.get_ylabel()),
                "lines": len(axes.lines),
                "patches": len(axes.patches),
                "texts": len(axes.texts),
                "collections": len(axes.collections),
                "images": len(axes.images),
            }
        )

    return {
        "texts": texts,
        "texts_truncated": len(texts_drawn) > MAX_TEXTS_PER_FIGURE,
        "overlaps": overlaps,
        "axes": axes_records,
    }


def measure_ink(renderer):
    """Share of pixels that differ from the background colour, read from the finished canvas."""
    rgba = numpy.asarray(renderer.buffer_rgba())
    height, width = rgba.shape[0], rgba.shape[1]
    # One uint32 per pixel: an exact comparison is enough, since Agg paints an untouched canvas
    # with exactly its face colour, and it is several times faster than per-channel arithmetic.
    pixels = numpy.ascontiguousarray(rgba).view(numpy.uint32).reshape(height, width)
    corners = [int(pixels[y, x]) for y in (0, height - 1) for x in (0, width - 1)]
    # The most common corner colour: robust to a figure whose content touches one corner.
    background = max(set(corners), key=corners.count)
    return float(numpy.count_nonzero(pixels != background)) / pixels.size


def save_png(figure, handle, dpi, whole=False):
    """Saves the figure and returns (ink fraction, introspection) measured on the very pixels saved.

    whole: save the whole canvas (dpi x its size in inches), not the tight box around what was drawn.
    """
    measured = {}

    def on_draw(event):
        renderer = event.renderer
        # savefig first runs a draw with the renderer's drawing calls patched out, to size the
        # tight box; only the real draw that follows paints the pixels written to the file.
        if "draw_path" in vars(renderer) or not hasattr(renderer, "buffer_rgba"):
            return
        measured["ink"] = measure_ink(renderer)
        measured["introspection"] = introspect(figure, renderer, list(recorder.texts.values()))

    connection = figure.canvas.mpl_connect("draw_event", on_draw)
    recorder.start()
    try:
        original_savefig(figure, handle, dpi=dpi, bbox_inches=None if whole else "tight", format="png")
    finally:
        recorder.stop()
        figure.canvas.mpl_disconnect(connection)
    if "ink" not in measured:
        raise RuntimeError("the figure was saved without being drawn")
    return measured["ink"], measured["introspection"]


def save_figure_file(figure, path, dpi, whole=False):
    # The script had the job directory to itself: whatever it left under this name (a symlink to
    # a file elsewhere, above all) is removed, and the new file is created, never followed.
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        return save_png(figure, handle, dpi, whole)


def save_figures(job_directory, dpi, figure_inches=None):
    """Saves each captured figure; returns (figure records, error record or None).

    figure_inches: (width, height) every figure is resized to and saved whole, as a benchmark
    protocol fixes the image size; None keeps the script's size and crops to what it drew.
    """
    records = []
    max_side = settings["max_image_side"]
    for index, figure in enumerate(capture.figures, start=1):
        if figure_inches is not None:
            try:
                figure.set_size_inches(figure_inches[0], figure_inches[1], forward=False)
            except BaseException as error:  # noqa: BLE001 — a script may have subclassed Figure
                return records, {
                    "kind": "exception",
                    "message": f"resizing figure {index} failed: {type(error).__name__}: {error}",
                }
        width_inches, height_inches = figure.get_size_inches()
        if max(width_inches, height_inches) * dpi > max_side:
            return records, {
                "kind": "limit",
                "message": (
                    f"figure {index} is {width_inches:g}x{height_inches:g} inches, over "
                    f"{max_side} pixels at {dpi:g} dpi; use a smaller figsize"
                ),
            }
        file_name = f"figure-{index}.png"
        path = os.path.join(job_directory, file_name)
        try:
            ink_fraction, introspection = save_figure_file(figure, path, dpi, figure_inches is not None)
        except BaseException as error:  # noqa: BLE001 — drawing runs the script's artists
            # The traceback is matplotlib's own drawing code; its last line names the cause.
            message = f"saving figure {index} failed: " + "".join(
                traceback.format_exception_only(type(error), error)
            ).strip()
            if isinstance(error, ValueError) and "Image size" in str(error):
                message += (
                    "\n(figures are saved with bbox_inches='tight', which grows to include every"
                    " artist: one is placed far outside the axes, e.g. text at a huge coordinate)"
                )
            explanation = limit_explanation(error)
            if explanation:
                message += "\n" + explanation
            return records, {"kind": "exception" if explanation is None else "limit", "message": message}
        with open(path, "rb") as handle:
            header = handle.read(24)
        width = int.from_bytes(header[16:20], "big")
        height = int.from_bytes(header[20:24], "big")
        introspection["size_inches"] = [finite(width_inches, 3), finite(height_inches, 3)]
        introspection["dpi"] = finite(dpi, 3)
        records.append(
            {
                "file": file_name,
                "width": width,
                "height": height,
                "blank": ink_fraction < BLANK_INK_FRACTION,
                "ink_fraction": round(ink_fraction, 6),
                "introspection": introspection,
            }
        )
    return records, None


def write_result(job_directory, result):
    # Write then rename: the caller never reads half a file, even if this process is killed.
    temporary_path = os.path.join(job_directory, "result.json.partial")
    try:
        os.unlink(temporary_path)
    except FileNotFoundError:
        pass
    descriptor = os.open(temporary_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(result, handle, allow_nan=False)
    os.replace(temporary_path, os.path.join(job_directory, "result.json"))


def render(script_path, job_directory, dpi, figure_inches=None):
    """Runs the script and saves its figures; returns the result record (not yet written)."""
    # Run it by its bare name from its own folder, as `python script.py` would: tracebacks and
    # warnings then say "script.py", the name the repair step shows the model, not a scratch path.
    script_name = os.path.basename(script_path)
    os.chdir(os.path.dirname(script_path))
    sys.path[0] = os.path.dirname(script_path)
    sys.argv = [script_name]
    job_process = os.getpid()

    error = run_script(script_name)
    if os.getpid() != job_process:
        # A process the script forked came back out of the script: it must not save or report.
        os._exit(0)
    figures = []
    if error is None:
        if not capture.figures:
            error = {"kind": "no-figure", "message": "the script ran but created no figure"}
        else:
            figures, error = save_figures(job_directory, dpi, figure_inches)
            if error is None and all(record["blank"] for record in figures):
                error = {
                    "kind": "blank",
                    "message": "every figure is blank or nearly so: "
                    + ", ".join(
                        f"figure {index} has {record['ink_fraction']:.4%} non-background pixels"
                        for index, record in enumerate(figures, start=1)
                    ),
                }

    result = {"ok": error is None, "figures": figures}
    if error is not None:
        result["error"] = error
    return result


def run_job(script_path, job_directory, dpi, figure_inches=None):
    """The whole job in the forked child; never returns."""
    job_process = os.getpid()
    try:
        result = render(script_path, job_directory, dpi, figure_inches)
        if os.getpid() == job_process:
            write_result(job_directory, result)
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001 — the script may have replaced or closed the stream
                pass
        # Skip interpreter shutdown: it would wait for threads the script left running and run its
        # atexit handlers.
        os._exit(0)
