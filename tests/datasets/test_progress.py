"""Progress bars only where they are seen: not in log files, not as text in notebooks."""
import io
import sys
import types

from datasets import progress


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_no_bar_when_stderr_is_a_file(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert progress.bar(total=10, desc="packing") is None


def test_a_bar_on_a_terminal(monkeypatch):
    monkeypatch.setattr(sys, "stderr", _Terminal())
    bar = progress.bar(total=10, desc="packing", file=sys.stderr)
    assert bar is not None
    bar.update(10)
    bar.close()
    assert "packing" in sys.stderr.getvalue()


def test_no_text_bar_in_a_notebook_without_widgets(monkeypatch):
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import fails
    monkeypatch.setattr(sys, "stderr", _Terminal())
    assert progress.bar(total=10) is None
