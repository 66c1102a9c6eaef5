"""The baseline of bench/bench_predict.py: answering a question CSV one row at a time with plain
transformers, the way a user would write it without abo-vqa.

    python bench/plain_predict_loop.py --model DIR --image-dir DIR --csv FILE --out FILE
        [--max-new-tokens 5]

For each row of `image_name,question`: open the image, run the processor on it and the question,
`model.generate`, decode; write `image_name,question,answer`. Nothing of abo_vqa is imported.
The model is loaded in float32: the shipped base stores float16 weights, and transformers 5
would otherwise compute in float16, which on a CPU is many times slower (an unfair baseline).
Torch keeps its default thread count (one per core).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import torch
from PIL import Image
from transformers import BlipForQuestionAnswering, BlipProcessor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--image-dir", required=True, type=Path)
    parser.add_argument("--csv", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--max-new-tokens", type=int, default=5)
    args = parser.parse_args()

    processor = BlipProcessor.from_pretrained(args.model)
    model = BlipForQuestionAnswering.from_pretrained(args.model, dtype=torch.float32)
    model.eval()
    with open(args.csv, newline="") as questions, open(args.out, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["image_name", "question", "answer"])
        for row in csv.DictReader(questions):
            image = Image.open(args.image_dir / row["image_name"]).convert("RGB")
            inputs = processor(images=image, text=row["question"], return_tensors="pt")
            with torch.no_grad():
                ids = model.generate(**inputs, max_new_tokens=args.max_new_tokens)
            answer = processor.decode(ids[0], skip_special_tokens=True).strip()
            writer.writerow([row["image_name"], row["question"], answer])


if __name__ == "__main__":
    main()
