"""The SciGenBench aggregation, applied to a scigen manifest: an independent check of summary.json.

Usage: official-aggregate.py MANIFEST.jsonl GENERATOR

Writes the rows the benchmark's evaluation scripts write (one row per graded quiz with quiz_idx >= 0
and is_correct 0/1; one row per graded VE question with quiz_idx -2; one judge row per image with its
five scores and image_type), then aggregates them with pandas the way the benchmark's run.py and
src/eval/quiz.py and llm_as_judge.py do: question accuracy = correct rows over all rows, perfect-image
rate = share of ids whose rows' mean is 1.0, per image type the same on that type's rows, judge means
over rows with all five scores. Prints one JSON object. Written for this project's tests from the
benchmark's published arithmetic; it shares no code with scigen's TypeScript aggregation.
"""

import json
import sys

import pandas as pd

SCORES = [
    "correctness_fidelity",
    "layout_precision",
    "readability_occlusion",
    "scientific_plausibility",
    "expressiveness_richness",
]


def rows_of(manifest_path: str, generator: str):
    quiz_rows, judge_rows = [], []
    with open(manifest_path, encoding="utf-8") as manifest:
        for line in manifest:
            record = json.loads(line)
            result = next((r for r in record.get("results") or [] if r["generator"] == generator), None)
            if result is None or result.get("judge") is None:
                continue
            image_id = str(record["id"])
            image_type = record.get("image_type") or "Unknown"
            judge_rows.append({"id": image_id, "image_type": image_type, **result["judge"]})
            for index, quiz in enumerate(result.get("quiz_results") or []):
                correct = int(quiz["chosen"] is not None and quiz["chosen"] == quiz["correct_option"])
                quiz_rows.append({"id": image_id, "image_type": image_type, "quiz_idx": index, "is_correct": correct})
            ve = result.get("ve")
            if ve:
                quiz_rows.append({"id": image_id, "image_type": image_type, "quiz_idx": -2, "is_correct": int(ve["correct"])})
    return pd.DataFrame(quiz_rows, columns=["id", "image_type", "quiz_idx", "is_correct"]), pd.DataFrame(judge_rows)


def accuracy(frame: pd.DataFrame):
    if frame.empty:
        return {"r_inv": None, "perfect_image_rate": None, "questions": 0}
    per_image = frame.groupby("id")["is_correct"].mean()
    return {
        "r_inv": float(frame["is_correct"].sum() / len(frame)),
        "perfect_image_rate": float((per_image == 1.0).sum() / len(per_image)),
        "questions": int(len(frame)),
    }


def main() -> int:
    quizzes, judges = rows_of(sys.argv[1], sys.argv[2])
    combined = pd.concat([quizzes[quizzes["quiz_idx"] >= 0], quizzes[quizzes["quiz_idx"] == -2]], ignore_index=True)
    output = {"overall": accuracy(combined), "by_image_type": {}}
    output["overall"]["r_inv_quiz_only"] = accuracy(quizzes[quizzes["quiz_idx"] >= 0])["r_inv"]
    ve = quizzes[quizzes["quiz_idx"] == -2]
    output["overall"]["ve_accuracy"] = None if ve.empty else float(ve["is_correct"].mean())
    valid = judges.dropna(subset=SCORES) if not judges.empty else judges
    output["overall"]["judge_means"] = None if valid.empty else {s: float(valid[s].mean()) for s in SCORES}
    for image_type, group in combined.groupby("image_type"):
        output["by_image_type"][image_type] = accuracy(group)
    print(json.dumps(output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
