"""npurec datasets: raw files in, validated arrays and tf.data out.

It knows nothing of the models: of the floor below it, it uses only the errors
(:mod:`core.errors`), the atomic writer (:mod:`core.files`) and, for the featurizer's
image backbone, the Keras shims (:mod:`core.compat`).

Note: this top-level package is named ``datasets`` and therefore clashes with Hugging Face's
``datasets`` when both are installed in one environment; ``training.fit`` checks which one
was imported (``NPUREC_DATASETS`` below) and says so clearly.
"""

NPUREC_DATASETS = True
