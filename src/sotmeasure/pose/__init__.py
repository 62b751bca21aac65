"""sotmeasure.pose (see docs/DESIGN.md)."""
