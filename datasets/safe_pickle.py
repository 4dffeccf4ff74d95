"""Reading pickles that may come from someone else: an exact allow-list, checked before anything runs.

A pickle names the callables it wants run (``GLOBAL``/``STACK_GLOBAL``/``INST``/``EXT`` all go
through :meth:`pickle.Unpickler.find_class`) and the unpickler calls them with arguments of the
file's choosing. A test on module PREFIXES is not a boundary: protocol 4 resolves dotted names
(``pandas.core.config_init`` + ``os.spawnlp`` reaches :mod:`os` through a re-export), and a
"classes only" rule still lets through classes with effects (``numpy.memmap`` creates files,
``pandas.ExcelWriter`` writes them). So the rule here is a fixed set of exact (module, name)
pairs: what numpy and pandas (0.2x to 3.x) need to rebuild arrays, frames, series, indexes and
categoricals, plus inert builtins. Everything else is refused from ``find_class`` itself, i.e.
before it is called. Python 2 names (``__builtin__``, ``copy_reg``) and pandas' own legacy
locations are translated first, and the translated pair is what is checked.
"""
from __future__ import absolute_import, division, print_function

import _compat_pickle
import io
import pickle

_BUILTINS = ("object", "slice", "range", "list", "dict", "tuple", "set", "frozenset", "int",
             "float", "complex", "str", "bytes", "bytearray", "bool")
_NUMPY = [("numpy", "ndarray"), ("numpy", "dtype"), ("numpy", "int64"), ("numpy", "int32"),
          ("numpy", "float64"), ("numpy", "float32"), ("numpy", "bool_")]
for _core in ("numpy.core", "numpy._core"):
    _NUMPY += [(_core + ".multiarray", "_reconstruct"), (_core + ".multiarray", "scalar"),
               (_core + ".numeric", "_frombuffer")]
_PANDAS_TOP = ("DataFrame", "Series", "Index", "RangeIndex", "MultiIndex", "CategoricalIndex",
               "DatetimeIndex", "Categorical", "CategoricalDtype", "Timestamp", "Timedelta",
               "NA", "NaT", "StringDtype", "BooleanDtype", "Int8Dtype", "Int16Dtype",
               "Int32Dtype", "Int64Dtype", "UInt8Dtype", "UInt16Dtype", "UInt32Dtype",
               "UInt64Dtype", "Float32Dtype", "Float64Dtype", "DatetimeTZDtype")
_PANDAS_DEEP = {
    "pandas.core.frame": ("DataFrame",),
    "pandas.core.series": ("Series",),
    "pandas.core.indexes.base": ("Index", "_new_Index"),
    "pandas.core.indexes.range": ("RangeIndex",),
    "pandas.core.indexes.multi": ("MultiIndex",),
    "pandas.core.indexes.category": ("CategoricalIndex",),
    "pandas.core.indexes.datetimes": ("DatetimeIndex", "_new_DatetimeIndex"),
    "pandas.core.indexes.frozen": ("FrozenList", "FrozenNDArray"),
    "pandas.core.internals": ("BlockManager", "SingleBlockManager"),
    "pandas.core.internals.managers": ("BlockManager", "SingleBlockManager"),
    "pandas.core.internals.blocks": ("new_block", "Block", "NumpyBlock", "ObjectBlock",
                                     "IntBlock", "FloatBlock", "BoolBlock", "DatetimeBlock",
                                     "DatetimeTZBlock", "CategoricalBlock", "ExtensionBlock"),
    "pandas._libs.internals": ("_unpickle_block", "BlockPlacement"),
    "pandas._libs.arrays": ("__pyx_unpickle_NDArrayBacked",),
    "pandas._libs.tslibs.timestamps": ("_unpickle_timestamp", "Timestamp"),
    "pandas._libs.tslibs.nattype": ("_nat_unpickle", "__nat_unpickle"),
    "pandas.core.arrays.categorical": ("Categorical",),
    "pandas.core.arrays.datetimes": ("DatetimeArray",),
    "pandas.core.arrays.integer": ("IntegerArray", "Int64Dtype", "Int32Dtype"),
    "pandas.core.arrays.string_": ("StringArray", "StringDtype"),
    "pandas.core.arrays.boolean": ("BooleanArray", "BooleanDtype"),
    "pandas.core.dtypes.dtypes": ("CategoricalDtype", "DatetimeTZDtype"),
    "pandas.arrays": ("DatetimeArray", "IntegerArray", "StringArray", "BooleanArray",
                      "FloatingArray", "Categorical"),
}
ALLOWED = frozenset(
    [("builtins", name) for name in _BUILTINS] + _NUMPY
    + [("pandas", name) for name in _PANDAS_TOP]
    + [(module, name) for module, names in _PANDAS_DEEP.items() for name in names]
    + [("copyreg", "_reconstructor"), ("_codecs", "encode"), ("datetime", "datetime"),
       ("datetime", "date"), ("datetime", "timedelta"), ("collections", "OrderedDict")])


def _pandas_legacy_map():
    try:  # pandas' own table of moved classes (private, so optional)
        from pandas.compat import pickle_compat  # pylint: disable=import-outside-toplevel

        return dict(getattr(pickle_compat, "_class_locations_map", {}))
    except ImportError:  # pragma: no cover
        return {}


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that rebuilds numpy/pandas data and inert builtins, and refuses anything else
    (raising :class:`pickle.UnpicklingError`) before it is looked up, let alone called."""

    _legacy = None

    def find_class(self, module, name):
        """Allow only the classes of the allow-list; refuse anything else with UnpicklingError.

        Args:
          module, name: what the pickle asks for.

        Returns:
          The class, when allowed.

        Raises:
          pickle.UnpicklingError: anything not on the allow-list.
        """
        key = (module, name)
        if key in _compat_pickle.NAME_MAPPING:  # Python 2 pickles
            key = _compat_pickle.NAME_MAPPING[key]
        elif key[0] in _compat_pickle.IMPORT_MAPPING:
            key = (_compat_pickle.IMPORT_MAPPING[key[0]], key[1])
        if RestrictedUnpickler._legacy is None:
            RestrictedUnpickler._legacy = _pandas_legacy_map()
        key = tuple(RestrictedUnpickler._legacy.get(key, key))
        if key not in ALLOWED:
            raise pickle.UnpicklingError(
                "refusing to load {}.{} from a pickle (only numpy/pandas data is allowed)".format(
                    module, name))
        return super(RestrictedUnpickler, self).find_class(*key)

    def persistent_load(self, pid):
        """Refuse persistent ids (a pickle of ours never has them).

        Args:
          pid: the persistent id.

        Raises:
          pickle.UnpicklingError: always.
        """
        raise pickle.UnpicklingError("refusing a persistent id in a pickle ({!r})".format(pid))


def load_all(payload, trust=False):
    """Every object pickled one after another in ``payload`` (bytes), in order.

    ``trust=True`` uses the unrestricted unpickler (it can run code: only on the user's
    explicit opt-in). Errors are the unpickler's own (UnpicklingError and friends).

    Args:
      payload: the file's bytes.
      trust: use the unrestricted unpickler.

    Returns:
      The list of objects.
    """
    stream = io.BytesIO(payload)
    objects = []
    while stream.tell() < len(payload):
        if trust:
            objects.append(pickle.load(stream))
        else:
            objects.append(RestrictedUnpickler(stream).load())
    return objects
