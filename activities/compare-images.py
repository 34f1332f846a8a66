"""PSNR and SSIM of a generated image against a reference image, printed as one JSON object.

Usage: compare-images.py REFERENCE GENERATED

Both images are flattened onto white (transparent pixels would otherwise count as black), turned
into grayscale luminance in [0, 1] (skimage.color.rgb2gray: 0.2125 R + 0.7154 G + 0.0721 B), and
the generated one is resized to the reference's size (bilinear, anti-aliased). Grayscale because
diagrams carry their content in strokes and text, not hue, and the paper fixes no choice; one number
per pair keeps the leaderboard simple. data_range is 1.0. Identical images have an infinite PSNR,
which JSON cannot carry: PSNR is capped at PSNR_CAP_DB.
"""

import json
import math
import sys
import warnings

PSNR_CAP_DB = 100.0
# Decoding is bounded: far past any rendered diagram, well short of a decompression bomb.
MAX_PIXELS = 64 * 1024 * 1024
# structural_similarity's default window is 7x7.
MIN_SIDE = 7


def fail(reason: str) -> int:
    print(json.dumps({"ok": False, "reason": reason}))
    return 0


def load(path: str, what: str):
    import numpy as np
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(path) as image:
            image.load()
            rgba = image.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    rgb = Image.alpha_composite(white, rgba).convert("RGB")
    array = np.asarray(rgb, dtype=np.float64) / 255.0
    if min(array.shape[0], array.shape[1]) < MIN_SIDE:
        raise ValueError(f"the {what} image is {array.shape[1]}x{array.shape[0]}, smaller than the {MIN_SIDE}x{MIN_SIDE} SSIM window")
    return array


def main() -> int:
    from skimage.color import rgb2gray
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity
    from skimage.transform import resize

    reference_path, generated_path = sys.argv[1], sys.argv[2]
    try:
        reference = rgb2gray(load(reference_path, "reference"))
    except Exception as error:  # noqa: BLE001 - any decoding failure is a reason, not a crash
        return fail(f"cannot read the reference image: {error}")
    try:
        generated = rgb2gray(load(generated_path, "generated"))
    except Exception as error:  # noqa: BLE001
        return fail(f"cannot read the generated image: {error}")
    if generated.shape != reference.shape:
        generated = resize(generated, reference.shape, order=1, anti_aliasing=True, preserve_range=True)
    with warnings.catch_warnings():
        # Identical images: skimage warns and returns inf, which the cap replaces.
        warnings.simplefilter("ignore", RuntimeWarning)
        psnr = float(peak_signal_noise_ratio(reference, generated, data_range=1.0))
    psnr = PSNR_CAP_DB if math.isinf(psnr) or psnr > PSNR_CAP_DB else psnr
    ssim = float(structural_similarity(reference, generated, data_range=1.0))
    print(json.dumps({"ok": True, "psnr": psnr, "ssim": ssim}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
