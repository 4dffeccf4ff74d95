"""The notebooks run top to bottom on a short configuration (any cell error fails the test)."""
import os

import pytest

from tests.conftest import ROOT

# slow tier (setup.cfg markers): notebooks executed by a kernel; `.ci/run` runs it
pytestmark = pytest.mark.slow

nbformat = pytest.importorskip("nbformat", reason="the test extra installs nbformat")
nbclient = pytest.importorskip("nbclient", reason="the test extra installs nbclient")


@pytest.mark.parametrize("name", ["din.ipynb", "ngnn.ipynb"])
def test_notebook_executes(name, tmp_path, monkeypatch):
    monkeypatch.setenv("NPUREC_NOTEBOOK_QUICK", "1")
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    monkeypatch.delenv("NPUREC_VERBOSE", raising=False)
    path = os.path.join(ROOT, "notebooks", name)
    book = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(book, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": os.path.dirname(path)}})
    client.execute()
    images = [o for cell in book.cells if cell.cell_type == "code"
              for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) >= 2  # history and at least one model picture were shown
    texts = "".join(o.get("text", "") for cell in book.cells if cell.cell_type == "code"
                    for o in cell.get("outputs", []) if o.get("output_type") == "stream")
    for notice in ("cuInit", "absl::InitializeLog", "cudart_stub", "rebuild TensorFlow"):
        assert notice not in texts  # TensorFlow's start-up notices stay out of the notebook


@pytest.mark.parametrize("name", ["din.ipynb", "ngnn.ipynb"])
def test_committed_notebooks_hold_no_outputs(name):
    """Outputs belong to whoever runs the notebook, not to the repository."""
    book = nbformat.read(os.path.join(ROOT, "notebooks", name), as_version=4)
    for cell in book.cells:
        if cell.cell_type == "code":
            assert not cell.get("outputs") and cell.get("execution_count") is None
