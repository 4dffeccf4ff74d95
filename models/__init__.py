"""npurec models: pure Keras layers and models (no files, no flags, no loop)."""
