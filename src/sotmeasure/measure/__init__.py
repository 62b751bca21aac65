"""sotmeasure.measure (see docs/DESIGN.md)."""
