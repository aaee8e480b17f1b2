"""Pieces every stage of the GatorTron pipeline shares: PHI-safe logging, atomic writes, corpus
readers, and the command-line recipe (`cli`: run_stage; `settings`: config folders and schemas;
`environment`: process settings applied before torch is imported; `lifetime`: helper processes
that end with their parent)."""
