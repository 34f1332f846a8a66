"""Runs one untrusted Matplotlib script and saves every figure it made.

Usage: python -s -B harness.py SCRIPT_PATH JOB_DIRECTORY DPI

Writes JOB_DIRECTORY/figure-N.png (one per figure, creation order) and JOB_DIRECTORY/result.json:
    {"ok": bool,
     "figures": [{"file", "width", "height", "blank", "ink_fraction"}],
     "error": {"kind": "exception" | "no-figure" | "blank" | "limit", "message"}}   (only when not ok)

The script runs in this interpreter, so nothing here is a security boundary: the caller treats
result.json and the PNGs as untrusted (it re-checks names, file types and PNG headers). What this
file adds is fidelity — the figures the script meant to show end up as images, however it tried to
show or save them — and error messages the repair step can act on.
"""

import os
import resource
import sys

RESOURCE_LIMITS = (
    # (limit, soft, hard). Hard limits bind the script too: an unprivileged uid cannot raise them
    # (root can, which the sandboxed renderer addresses). CPU gets one second between the two so
    # the soft limit's SIGXCPU, reported as a CPU limit, comes before the hard limit's SIGKILL.
    (resource.RLIMIT_CPU, 10, 11),
    (resource.RLIMIT_AS, 2 * 1024**3, 2 * 1024**3),
    (resource.RLIMIT_FSIZE, 64 * 1024**2, 64 * 1024**2),
    (resource.RLIMIT_NOFILE, 256, 256),
    (resource.RLIMIT_CORE, 0, 0),
)

MAX_FIGURES = 16
MAX_PIXELS_PER_SIDE = 8192
# Below this share of pixels differing from the background a figure is considered blank: an empty
# canvas, or one with a stray dot. A sparse line diagram (an incline, three force arrows, axes off)
# is about 0.3%; a single short line at 150 dpi is still above this.
BLANK_INK_FRACTION = 0.0002
# Traceback text kept for the repair step: the end is where the cause is.
MAX_ERROR_CHARACTERS = 3000

# Headless whatever the environment says, before matplotlib reads it.
os.environ["MPLBACKEND"] = "Agg"

import json
import runpy
import traceback

import matplotlib

matplotlib.use("Agg", force=True)

import matplotlib.figure
import matplotlib.pyplot as pyplot
import numpy
from PIL import Image


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


def do_nothing(*arguments, **keyword_arguments):
    return None


def neutralize_interactive_calls():
    # Resolve the backend now: pyplot resolves it lazily through switch_backend, replaced below.
    pyplot.switch_backend("agg")
    matplotlib.figure.Figure.__init__ = capturing_figure_init
    matplotlib.figure.Figure.savefig = savefig_without_writing
    pyplot.savefig = pyplot_savefig_without_redraw
    matplotlib.figure.Figure.show = do_nothing
    # A script written for a desktop may ask for TkAgg or Qt; the render is headless either way.
    matplotlib.use = do_nothing
    pyplot.switch_backend = do_nothing
    pyplot.show = do_nothing
    # plt.pause() would sleep (and spin an event loop) in animation-style scripts.
    pyplot.pause = do_nothing


def apply_resource_limits():
    for limit, soft, hard in RESOURCE_LIMITS:
        try:
            resource.setrlimit(limit, (soft, hard))
        except (ValueError, OSError):
            # The inherited hard limit is already lower; keep it.
            pass


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


def classify_exception(error):
    if isinstance(error, (FigureLimitExceeded, MemoryError)):
        return "limit"
    return "exception"


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
        if isinstance(error, MemoryError):
            message += "\n(the script may use at most 2 GiB of memory)"
        return {"kind": classify_exception(error), "message": message}
    return None


def measure_ink(path):
    """(width, height, share of pixels that differ from the background colour)."""
    with Image.open(path) as image:
        rgba = numpy.ascontiguousarray(numpy.asarray(image.convert("RGBA")))
    height, width = rgba.shape[0], rgba.shape[1]
    # One uint32 per pixel: an exact comparison is enough, since Agg paints an untouched canvas
    # with exactly its face colour, and it is several times faster than per-channel arithmetic.
    pixels = rgba.view(numpy.uint32).reshape(height, width)
    corners = [int(pixels[y, x]) for y in (0, height - 1) for x in (0, width - 1)]
    # The most common corner colour: robust to a figure whose content touches one corner.
    background = max(set(corners), key=corners.count)
    return width, height, float(numpy.count_nonzero(pixels != background)) / pixels.size


def save_png(figure, path, dpi):
    # The script had the job directory to itself: whatever it left under this name (a symlink to
    # a file elsewhere, above all) is removed, and the new file is created, never followed.
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        original_savefig(figure, handle, dpi=dpi, bbox_inches="tight", format="png")


def save_figures(job_directory, dpi):
    """Saves each captured figure; returns (figure records, error record or None)."""
    records = []
    for index, figure in enumerate(capture.figures, start=1):
        width_inches, height_inches = figure.get_size_inches()
        if max(width_inches, height_inches) * dpi > MAX_PIXELS_PER_SIDE:
            return records, {
                "kind": "limit",
                "message": (
                    f"figure {index} is {width_inches:g}x{height_inches:g} inches, over "
                    f"{MAX_PIXELS_PER_SIDE} pixels at {dpi:g} dpi; use a smaller figsize"
                ),
            }
        file_name = f"figure-{index}.png"
        path = os.path.join(job_directory, file_name)
        try:
            save_png(figure, path, dpi)
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
            return records, {"kind": classify_exception(error), "message": message}
        width, height, ink_fraction = measure_ink(path)
        records.append(
            {
                "file": file_name,
                "width": width,
                "height": height,
                "blank": ink_fraction < BLANK_INK_FRACTION,
                "ink_fraction": round(ink_fraction, 6),
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
        json.dump(result, handle)
    os.replace(temporary_path, os.path.join(job_directory, "result.json"))


def main():
    script_path = os.path.abspath(sys.argv[1])
    job_directory = os.path.abspath(sys.argv[2])
    dpi = float(sys.argv[3])

    # Run it by its bare name from its own folder, as `python script.py` would: tracebacks and
    # warnings then say "script.py", the name the repair step shows the model, not a scratch path.
    script_name = os.path.basename(script_path)
    os.chdir(os.path.dirname(script_path))
    sys.path[0] = os.path.dirname(script_path)
    sys.argv = [script_name]
    neutralize_interactive_calls()
    apply_resource_limits()

    error = run_script(script_name)
    figures = []
    if error is None:
        if not capture.figures:
            error = {"kind": "no-figure", "message": "the script ran but created no figure"}
        else:
            figures, error = save_figures(job_directory, dpi)
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
    write_result(job_directory, result)

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 — the script may have replaced or closed the stream
            pass
    # Skip interpreter shutdown: it would wait for threads the script left running and run its
    # atexit handlers.
    os._exit(0)


if __name__ == "__main__":
    main()
