"""QA generation: providers behind one interface (see `abo_vqa.qa.base`); `providers.make_provider`
builds the one params name. The package imports nothing itself, so that a stage which only reads
the QA table's columns (`qa.base`) does not depend on the providers' code."""
