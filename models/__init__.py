"""npurec models, the floor of the house: pure Keras layers and models, and the few basics every
package shares (:mod:`core.compat` for Keras 2 vs 3, :mod:`core.precision`,
:mod:`core.errors`, :mod:`core.files`). It imports no other npurec package (the
import-linter contract in setup.cfg)."""
