"""Benchmarks of evals components against public labelled data (run as modules)."""

__all__: list[str] = []
