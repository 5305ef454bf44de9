"""Encoder x items -> float32 embeddings: plan, loader, runner, writer and the cache."""
