"""The product's own benchmarks, run as modules (`python -m benchmarks.<name>`); each prints its
figures side by side with the peer it replaces. See docs/benchmarks.md."""

__all__: list[str] = []
