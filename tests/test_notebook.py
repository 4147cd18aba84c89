"""examples/colab.ipynb runs top to bottom on this CPU machine: a tiny random model, the install skipped, the
self-test, a generated tune exported to mp4 and shown inline (GPU-only steps skip themselves)."""

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "colab.ipynb"


def test_colab_notebook_runs_on_cpu(tiny_model_dir, tmp_path, tmp_path_factory, monkeypatch):
    monkeypatch.setenv("LIVE_INSTALLED", "1")
    monkeypatch.setenv("LIVE_MODEL", str(tiny_model_dir))
    monkeypatch.setenv("LIVE_SECONDS", "3")
    monkeypatch.setenv("LIVE_SONG", str(tmp_path / "no-such-song.mp3"))  # use the generated tune
    # the session's engine cache (test_backends.py builds the same tiny engines): the notebook's cells, not the
    # engine builds, are what this test times
    monkeypatch.setenv("LIVE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "live-cache"))
    root = str(NOTEBOOK.parents[1])  # the kernel and the commands it runs use this checkout
    monkeypatch.setenv("PYTHONPATH", root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert (tmp_path / "video.mp4").stat().st_size > 1000
    report = (tmp_path / "selftest.json").read_text()
    assert '"ok": true' in report
    shown = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
             if "text/html" in out.get("data", {})]
    assert shown and "<video" in shown[0]["data"]["text/html"]  # the video, inline
