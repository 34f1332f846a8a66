"""PSNR and SSIM of a generated image against a reference image, printed as one JSON object.

Usage: compare-images.py REFERENCE GENERATED

The recipe is SciGenBench's (its src/eval/t2i_metric.py), so the numbers line up with the paper's:
both images are converted with PIL's convert("RGB") (an alpha channel is dropped, not composited:
a transparent pixel keeps the colour it stores), the reference is resized to the generated image's
size with bicubic resampling when the sizes differ, and the uint8 arrays are compared with data
range 255: PSNR over all three channels, SSIM per channel (channel_axis=2) with a 3x3 window.
Identical images have an infinite PSNR, which JSON cannot carry: PSNR is then null.
"""

import json
import math
import sys
import warnings

# Decoding is bounded: far past any rendered diagram, well short of a decompression bomb.
MAX_PIXELS = 64 * 1024 * 1024
# The official SSIM window is 3x3: both sides must be at least that.
WINDOW = 3


def fail(reason: str) -> int:
    print(json.dumps({"ok": False, "reason": reason}))
    return 0


def load(path: str):
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(path) as image:
            image.load()
            return image.convert("RGB")


def main() -> int:
    import numpy as np
    from PIL import Image
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    reference_path, generated_path = sys.argv[1], sys.argv[2]
    try:
        reference = load(reference_path)
    except Exception as error:  # noqa: BLE001 - any decoding failure is a reason, not a crash
        return fail(f"cannot read the reference image: {error}")
    try:
        generated = load(generated_path)
    except Exception as error:  # noqa: BLE001
        return fail(f"cannot read the generated image: {error}")
    # The reference takes the generated image's size, so only that size can be too small.
    if min(generated.size) < WINDOW:
        width, height = generated.size
        return fail(f"the generated image is {width}x{height}, smaller than the {WINDOW}x{WINDOW} SSIM window")
    if reference.size != generated.size:
        reference = reference.resize(generated.size, Image.BICUBIC)
    reference_array = np.asarray(reference, dtype=np.uint8)
    generated_array = np.asarray(generated, dtype=np.uint8)
    with warnings.catch_warnings():
        # Identical images: skimage warns of a division by zero and returns inf.
        warnings.simplefilter("ignore", RuntimeWarning)
        psnr = float(peak_signal_noise_ratio(reference_array, generated_array, data_range=255))
    ssim = float(
        structural_similarity(reference_array, generated_array, data_range=255, channel_axis=2, win_size=WINDOW)
    )
    print(json.dumps({"ok": True, "psnr": None if math.isinf(psnr) else psnr, "ssim": ssim}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
