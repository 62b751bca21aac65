"""sotmeasure.store (see docs/DESIGN.md)."""
