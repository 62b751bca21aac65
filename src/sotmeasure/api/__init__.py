"""sotmeasure.api (see docs/DESIGN.md)."""
