"""npurec benchmarks: pytest-benchmark suites and a JSON-writing runner."""
