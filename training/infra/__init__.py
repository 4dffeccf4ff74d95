"""The loop's infrastructure, knowing no model: devices and precision (runtime), clusters,
sharding, optimizers, configuration, the run directory, generic metrics and pictures."""
