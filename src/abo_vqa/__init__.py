"""abo-vqa."""
