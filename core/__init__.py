"""The floor under every package: errors and their exit codes, atomic writes and checked
reads, numbers written as text, memory estimates, the precision table, the Keras 2/3 shims
and TensorFlow's start-up noise. Knows no model, data set or loop; everything may use it.
"""
