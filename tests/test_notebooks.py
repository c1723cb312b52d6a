"""The example notebooks under docs/examples run from top to bottom, as a reader would run them.

Each notebook is executed by nbclient in a kernel of this interpreter (so it imports the galcat
under test), in a temporary folder. The docs site shows the notebooks as committed and never
executes them, so they are committed without outputs and this test is what keeps them working.
"""

from __future__ import annotations

from pathlib import Path

import nbclient
import nbformat
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))
KERNEL = "galcat-tests"


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    """A kernel spec that runs ``sys.executable``, found through a private JUPYTER_PATH."""
    from ipykernel.kernelspec import install

    prefix = tmp_path_factory.mktemp("jupyter")
    install(kernel_name=KERNEL, prefix=str(prefix))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PATH", str(prefix / "share" / "jupyter"))
        yield KERNEL


def test_there_is_an_example_notebook_and_it_is_committed_clean():
    assert "quickstart.ipynb" in [p.name for p in NOTEBOOKS]
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        code = [c for c in notebook.cells if c.cell_type == "code"]
        assert code and all(not c.outputs and c.execution_count is None for c in code), path.name


@pytest.mark.timeout(600)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_from_top_to_bottom(path, kernel, tmp_path):
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name=kernel, resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, if a cell fails
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    if path.name == "quickstart.ipynb":
        texts = [o["data"].get("text/plain", "") for o in outputs if "data" in o]
        assert any("(8, 9)" in t for t in texts), texts  # 8 images x the 9 classes of the hubble9 scheme
        assert any("image/png" in o["data"] for o in outputs if "data" in o)  # the figure was drawn
