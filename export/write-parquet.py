"""Writes scigen export rows to one Parquet file, a row group at a time.

Reads JSON lines on stdin: {"row": {...every column but the image bytes}, "image_base64": "..."}.
The image goes into both `image` (plain column) and `images` (verl's multimodal layout), so memory
holds one row group, never the dataset. Usage: write-parquet.py OUTPUT [ROWS_PER_GROUP]
"""

import base64
import json
import sys

import pyarrow as pa
import pyarrow.parquet as pq

JUDGE_DIMENSIONS = [
    "correctness_fidelity",
    "layout_precision",
    "readability_occlusion",
    "scientific_plausibility",
    "expressiveness_richness",
]

SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("problem_id", pa.string()),
        ("generator", pa.string()),
        ("question", pa.string()),
        ("answer", pa.string()),
        ("image", pa.binary()),
        ("data_source", pa.string()),
        ("prompt", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
        ("images", pa.list_(pa.struct([("bytes", pa.binary()), ("path", pa.string())]))),
        ("ability", pa.string()),
        ("reward_model", pa.struct([("style", pa.string()), ("ground_truth", pa.string())])),
        (
            "extra_info",
            pa.struct(
                [
                    ("id", pa.string()),
                    ("problem_id", pa.string()),
                    ("generator", pa.string()),
                    ("verdict", pa.string()),
                    ("subject", pa.string()),
                    ("image_type", pa.string()),
                    ("image_uri", pa.string()),
                    ("r_inv", pa.float64()),
                    ("judge", pa.struct([(name, pa.int64()) for name in JUDGE_DIMENSIONS])),
                    ("psnr", pa.float64()),
                    ("ssim", pa.float64()),
                ]
            ),
        ),
    ]
)

# Images make rows large: a group is closed at this many rows or bytes, whichever comes first.
MAX_GROUP_BYTES = 128 * 1024 * 1024


def main() -> int:
    output = sys.argv[1]
    rows_per_group = int(sys.argv[2]) if len(sys.argv) > 2 else 256
    rows = []
    buffered_bytes = 0
    written = 0
    with pq.ParquetWriter(output, SCHEMA, compression="zstd") as writer:

        def flush():
            nonlocal rows, buffered_bytes, written
            if rows:
                writer.write_table(pa.Table.from_pylist(rows, schema=SCHEMA))
                written += len(rows)
            rows = []
            buffered_bytes = 0

        for line in sys.stdin.buffer:
            if not line.strip():
                continue
            message = json.loads(line)
            row = message["row"]
            image = base64.b64decode(message["image_base64"])
            row["image"] = image
            for entry in row["images"]:
                entry["bytes"] = image
            rows.append(row)
            buffered_bytes += 2 * len(image)
            if len(rows) >= rows_per_group or buffered_bytes >= MAX_GROUP_BYTES:
                flush()
        flush()
    print(json.dumps({"rows": written}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
