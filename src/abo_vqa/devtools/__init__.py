"""Tools that keep the repository honest (not part of the pipeline)."""
