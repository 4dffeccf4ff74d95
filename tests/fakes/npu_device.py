"""A test double of Huawei's ``npu_device`` (the Ascend TensorFlow adapter) and its loss-scale
optimizer. A mock by necessity: no Ascend hardware or ``npu_device`` wheel can exist on the
machines the tests run on, so the NPU path of the runtime and the loop is checked against this
double, written from Ascend's public tf_adapter_2.x source (read, not copied).
"""
import types

import tensorflow as tf

from core import compat


class FakeNpuLossScaleOptimizer(tf.Module):
    """Double of ``npu_device.train.optimizer.NpuLossScaleOptimizer`` as read in Ascend's
    tf_adapter_2.x source: overflow is NOT inferred from the gradients but read from the
    device's float-status flag, which any overflowing fp16 op sets; ``get_scaled_loss`` clears
    it at the start of a step, and ``apply_gradients`` all-reduces it over the ranks (so every
    rank skips together) before applying or skipping and halving the scale.

    It speaks the Keras 2 loss-scale API the real one has (``get_scaled_loss``,
    ``get_unscaled_gradients``, ``loss_scale``) and the Keras 3 spelling that
    :mod:`core.compat` uses under Keras 3 (``scale_loss``, unscaling inside apply).
    """

    def __init__(self, inner, fake, initial_scale=2.0 ** 15):
        super(FakeNpuLossScaleOptimizer, self).__init__()
        self.inner = inner
        self._fake = fake
        self.scale = tf.Variable(initial_scale, trainable=False, name="loss_scale")
        self._unscale_in_apply = False

    def get_scaled_loss(self, loss):
        self._fake.clear_float_status()
        return loss * self.scale

    def scale_loss(self, loss):  # Keras 3 spelling: gradients arrive scaled in apply
        self._unscale_in_apply = True
        return self.get_scaled_loss(loss)

    def get_unscaled_gradients(self, grads):
        return [g / self.scale for g in grads]

    @property
    def loss_scale(self):
        return self.scale

    @property
    def dynamic_scale(self):
        return self.scale

    @property
    def iterations(self):
        return self.inner.iterations

    def build(self, variables):
        compat.build_optimizer(self.inner, variables)

    def apply_gradients(self, pairs):
        pairs = list(pairs)
        grads = [g for g, _ in pairs]
        if self._unscale_in_apply:
            grads = self.get_unscaled_gradients(grads)
        overflow = self._fake.reduced_float_status() > 0

        def skip():
            self.scale.assign(self.scale / 2.0)
            return tf.constant(False)

        def apply():
            self.inner.apply_gradients(zip(grads, [v for _, v in pairs]))
            return tf.constant(True)

        return tf.cond(overflow, skip, apply)


class FakeNpuDevice(types.ModuleType):
    """A test double of the npu_device API (no Ascend hardware is available here).

    It records the order of calls, refuses options set after ``open()`` and unknown option
    names (as npu_device does), and its ``all_reduce`` returns NEW tensors (zeros), so a loop
    that ignored the returned tensors would still change the weights. Options are typed like
    npu_device's ``OptionValue``s (a value and the values allowed) with a ``dump_config``
    sub-config. The float-status flag (``float_status``, this rank; ``other_rank_status``,
    what the other rank's flag holds) is what the loss-scale double reads.
    """

    def __init__(self):
        super(FakeNpuDevice, self).__init__("npu_device")
        self.calls = []
        # None: all_reduce returns zeros; a scalar tf.Variable f: it returns g + f * g, i.e. the
        # other rank contributed f times this rank's gradient (a variable, because the
        # compiled step bakes in whatever Python the double runs while tracing)
        self.other_rank_factor = None
        self.float_status = tf.Variable(0.0, trainable=False, name="float_status")
        self.other_rank_status = tf.Variable(0.0, trainable=False, name="other_rank_status")
        fake = self

        class OptionValue(object):
            def __init__(self, value, optional):
                self.value, self.optional = value, optional

        class Config(object):
            """npu_device's NpuBaseConfig: assigning validates against ``optional``."""

            def __init__(self, **fields):
                object.__setattr__(self, "_fields", fields)

            def __getattr__(self, name):
                try:
                    return self._fields[name]
                except KeyError:
                    raise AttributeError(name)

            def __setattr__(self, name, value):
                if name not in self._fields:
                    raise AttributeError("unknown npu option " + name)
                if "open" in fake.calls:
                    raise AssertionError("option set after open()")
                current = self._fields[name]
                if current.optional is not None and value not in current.optional:
                    raise ValueError("{} not in {}".format(value, current.optional))
                fake.calls.append("option:{}={}".format(name, value))
                current.value = value

        self._options = Config(
            precision_mode=OptionValue(None, ["allow_mix_precision", "must_keep_origin_dtype",
                                              "allow_fp32_to_fp16"]),
            op_debug_level=OptionValue(0, [0, 1, 2, 3, 4]),
            graph_run_mode=OptionValue(1, [0, 1]))
        object.__setattr__(self._options, "_fields", dict(
            self._options._fields,  # pylint: disable=protected-access
            dump_config=Config(enable_dump=OptionValue(False, [True, False]),
                               dump_path=OptionValue(None, None))))

        class Device(object):
            def as_default(self):
                fake.calls.append("as_default")

        def npu_open():
            fake.calls.append("open")
            return Device()

        def loss_scale_optimizer(optimizer, dynamic=True):
            fake.calls.append("NpuLossScaleOptimizer")
            return FakeNpuLossScaleOptimizer(optimizer, fake)

        def all_reduce(values, reduction="mean"):
            fake.calls.append("all_reduce:" + reduction)
            values = [tf.convert_to_tensor(v) for v in values]
            if fake.other_rank_factor is None:
                return [tf.zeros_like(v) for v in values]
            return [v + fake.other_rank_factor * v for v in values]

        def broadcast(variables, root_rank=0):
            fake.calls.append("broadcast:{}".format(len(variables)))

        self.open = npu_open
        self.train = types.SimpleNamespace(
            optimizer=types.SimpleNamespace(NpuLossScaleOptimizer=loss_scale_optimizer))
        self.distribute = types.SimpleNamespace(all_reduce=all_reduce, broadcast=broadcast)

    def clear_float_status(self):
        self.float_status.assign(0.0)

    def reduced_float_status(self):
        """The flag summed over both ranks (the optimizer's own all_reduce of the status)."""
        return self.float_status + self.other_rank_status

    def global_options(self):
        self.calls.append("global_options")
        return self._options
