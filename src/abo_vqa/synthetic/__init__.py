"""Tooling that makes what the pipeline runs on offline, kept apart from the product modules.

- `sample`: the embedded ABO-format catalogue (`python -m abo_vqa.synthetic.sample`) and a
  realistic curated-VQA CSV over it (`python -m abo_vqa.synthetic.sample.curation`).
- `pretrain`: the synthetic-scene pretraining of the shipped base model
  (`python -m abo_vqa.synthetic.pretrain`).
- `tiny`: tiny randomly initialised models of the real classes, for tests and benchmarks.

No pipeline stage imports this package (dvc.yaml's deps, derived from the stages' imports, show it).
"""
