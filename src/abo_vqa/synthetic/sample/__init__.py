"""A small synthetic catalogue in ABO's exact format, generated deterministically.

Used as the pipeline's default input so that `dvc repro` works with no network. Modules:
`spec` (what a listing depicts), `listings` (ABO records), `silhouettes`/`surfaces`/`render`
(the product photo), `plan` (every line and row, awkward cases included), `writer` (the folder).
"""

from abo_vqa.synthetic.sample.plan import SamplePlan, plan_sample, summarize
from abo_vqa.synthetic.sample.writer import generate_sample, write_sample

__all__ = ["SamplePlan", "generate_sample", "plan_sample", "summarize", "write_sample"]
