"""The notebooks run top to bottom on a short configuration (any cell error fails the test)."""
import os

import pytest

from tests.conftest import ROOT

nbformat = pytest.importorskip("nbformat", reason="the test extra installs nbformat")
nbclient = pytest.importorskip("nbclient", reason="the test extra installs nbclient")


@pytest.mark.parametrize("name", ["din.ipynb", "ngnn.ipynb"])
def test_notebook_executes(name, tmp_path, monkeypatch):
    monkeypatch.setenv("NPUREC_NOTEBOOK_QUICK", "1")
    monkeypatch.setenv("NPUREC_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    path = os.path.join(ROOT, "notebooks", name)
    book = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(book, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": os.path.dirname(path)}})
    client.execute()
    images = [o for cell in book.cells if cell.cell_type == "code"
              for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) >= 2  # history and at least one model picture were shown
