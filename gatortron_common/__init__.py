"""Pieces every stage of the GatorTron pipeline shares: PHI-safe logging, atomic writes,
corpus readers and the synthetic corpus generators used by tests, the demo and benchmarks."""
