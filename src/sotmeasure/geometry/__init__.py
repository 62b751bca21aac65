"""sotmeasure.geometry (see docs/DESIGN.md)."""
