"""npurec training: the shared custom loop, runtimes (NPU/GPU/CPU), tasks and the CLI."""
