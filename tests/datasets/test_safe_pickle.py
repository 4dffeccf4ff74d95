"""The restricted unpickler: real data pickles of every protocol load; hostile pickles of several
shapes are refused BEFORE their payload runs (each payload would create a marker file)."""
from __future__ import absolute_import, division, print_function

import importlib
import os
import pickle
import struct

import numpy as np
import pandas as pd
import pytest

from core.errors import DataError
from datasets import amazon, safe_pickle


def _unicode(text):
    data = text.encode("utf-8")
    return b"\x8c" + struct.pack("<B", len(data)) + data  # SHORT_BINUNICODE


def _stack_global_call(module, name, *args):
    """protocol-4 bytes: STACK_GLOBAL(module, name)(*args) with string arguments."""
    body = _unicode(module) + _unicode(name) + b"\x93" + b"("
    for arg in args:
        body += _unicode(arg)
    return b"\x80\x04" + body + b"tR."


def _module_reexporting(attribute):
    """A numpy/pandas submodule that has ``attribute`` (e.g. ``os``) as a global, found at run
    time so the test follows the installed versions."""
    for name in ("pandas.core.config_init", "pandas.io.common", "pandas.util._print_versions",
                 "pandas.io.formats.format", "numpy.lib.npyio", "numpy.lib._npyio_impl",
                 "numpy._utils"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if hasattr(module, attribute):
            return name
    raise AssertionError("no numpy/pandas module re-exports {}".format(attribute))


def _hostile(marker):
    """(label, payload bytes): each would create ``marker`` if its globals were honoured."""
    path = str(marker)
    via_os = _module_reexporting("os")
    cases = [
        ("builtins.open", _stack_global_call("builtins", "open", path, "w")),
        ("dotted re-export (module prefix walk-around)",
         _stack_global_call(via_os, "os.mkdir", path)),
        ("re-exported module then getattr", _stack_global_call(via_os, "os")),
        ("numpy function that writes", b"\x80\x04" + _unicode("numpy") + _unicode("savetxt")
         + b"\x93(" + _unicode(path) + b"]tR."),
        ("numpy CLASS with effects (memmap creates its file)",
         _stack_global_call("numpy", "memmap", path, "w+")),
        ("pandas reader", _stack_global_call("pandas", "read_pickle", path)),
        ("builtins.getattr chain", _stack_global_call("builtins", "getattr", "os", "system")),
        ("protocol-0 INST os.system", b"(S'touch " + path.encode() + b"'\nios\nsystem\n."),
        ("python-2 __builtin__.eval", b"c__builtin__\neval\n(S'open(" + repr(path).encode()
         + b",\"w\")'\ntR."),
        ("subprocess", _stack_global_call("subprocess", "getoutput", "touch " + path)),
    ]
    return cases


@pytest.mark.parametrize("index", range(10))
def test_hostile_pickles_are_refused_before_they_run(tmp_path, index):
    marker = tmp_path / "marker"
    label, payload = _hostile(marker)[index]
    folder = tmp_path / "data"
    folder.mkdir()
    with open(str(folder / amazon.REMAP_PICKLE), "wb") as handle:
        handle.write(payload)
    with pytest.raises(DataError, match="refusing to load .*trust_pickle"):
        amazon.load(str(folder), str(tmp_path / "cache"))
    assert not marker.exists(), "{}: the payload ran".format(label)
    # the same bytes after a valid first object: refused as well
    good = pickle.dumps(pd.DataFrame({"a": [1]}), protocol=4)
    with pytest.raises(pickle.UnpicklingError):
        safe_pickle.load_all(good + payload)
    assert not marker.exists(), label


def _data_objects():
    frame = pd.DataFrame({"reviewerID": np.arange(4), "asin": np.arange(4),
                          "unixReviewTime": np.arange(4, dtype=np.int64)})
    return [
        frame, frame.iloc[[1, 3]], frame["asin"],
        pd.DataFrame({"s": ["a", "b"], "c": pd.Categorical(["x", "y"]),
                      "f": [0.5, np.nan]}, index=pd.Index([3, 4])),
        pd.DataFrame({"t": pd.to_datetime([1, 2])},
                     index=pd.MultiIndex.from_tuples([(1, 2), (3, 4)])),
        np.arange(5), np.array(["a", "bc"], dtype=object), np.int64(3), [1, 2, 3],
        (3, 5, 4), {"k": [1.5]}, (["a", "b"], ["x"], ["u"]), b"bytes", "text", None, True,
    ]


@pytest.mark.parametrize("protocol", range(0, pickle.HIGHEST_PROTOCOL + 1))
def test_data_of_every_protocol_loads(protocol):
    objects = _data_objects()
    payload = b"".join(pickle.dumps(o, protocol=protocol) for o in objects)
    loaded = safe_pickle.load_all(payload)
    assert len(loaded) == len(objects)
    for want, got in zip(objects, loaded):
        if isinstance(want, pd.DataFrame):
            pd.testing.assert_frame_equal(want, got)
        elif isinstance(want, pd.Series):
            pd.testing.assert_series_equal(want, got)
        elif isinstance(want, np.ndarray):
            np.testing.assert_array_equal(want, got)
        else:
            assert want == got


def test_python2_names_are_translated_then_checked():
    """A protocol-2 pickle written by Python 2 names ``__builtin__`` and ``copy_reg``."""
    unpickler = safe_pickle.RestrictedUnpickler(__import__("io").BytesIO(b""))
    assert unpickler.find_class("__builtin__", "set") is set
    assert unpickler.find_class("copy_reg", "_reconstructor") is __import__(
        "copyreg")._reconstructor
    with pytest.raises(pickle.UnpicklingError, match="__builtin__.eval"):
        unpickler.find_class("__builtin__", "eval")
    with pytest.raises(pickle.UnpicklingError):
        unpickler.find_class("pandas.core.frame", "DataFrame.__init__.__globals__")


def test_the_allow_list_holds_only_data_constructors():
    """No function or class that reads or writes files, imports, or evaluates is allowed."""
    for module, name in safe_pickle.ALLOWED:
        assert "." not in name, (module, name)
        lowered = name.lower()
        for word in ("read", "load", "save", "open", "eval", "exec", "system", "import",
                     "memmap", "writer", "store", "getattr", "spawn"):
            assert word not in lowered, (module, name)


def test_trust_pickle_is_the_explicit_opt_in(tmp_path):
    marker = tmp_path / "marker"
    folder = tmp_path / "data"
    folder.mkdir()
    with open(str(folder / amazon.REMAP_PICKLE), "wb") as handle:
        handle.write(_stack_global_call("builtins", "open", str(marker), "w"))
    with pytest.raises(DataError):  # runs (the user opted in), then the layout is wrong
        amazon.load(str(folder), str(tmp_path / "cache"), trust_pickle=True)
    assert marker.exists()
    os.remove(str(marker))
