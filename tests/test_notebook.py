"""examples/colab.ipynb runs top to bottom on this CPU machine: a tiny random model, the install skipped, the
self-test (auto alone, at the export's batch), a generated tune exported to mp4 with the engine the self-test
built, shown inline (GPU-only steps skip themselves); an empty repository URL stops it with a clear message."""

import json
import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "colab.ipynb"
ROOT = str(NOTEBOOK.parents[1])  # the kernel and the commands it runs use this checkout


def engine_files(cache: Path) -> set:
    """What the engine builds: ONNX exports and OpenVINO IRs and compiled blobs (not memos or work folders)."""
    return {p.relative_to(cache) for sub in ("onnx", "openvino", "tensorrt") for p in (cache / sub).rglob("*")
            if p.is_file()}


def client(nb, folder):
    return nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                   resources={"metadata": {"path": str(folder)}})


def test_colab_notebook_runs_on_cpu(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("LIVE_INSTALLED", "1")
    monkeypatch.setenv("LIVE_MODEL", str(tiny_model_dir))
    monkeypatch.setenv("LIVE_SECONDS", "3")
    monkeypatch.setenv("LIVE_SONG", str(tmp_path / "no-such-song.mp3"))  # use the generated tune
    cache = tmp_path / "cache"  # its own: what the self-test builds and what the export adds are counted
    monkeypatch.setenv("LIVE_CACHE_DIR", str(cache))
    monkeypatch.setenv("PYTHONPATH", ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    built = {}
    run = client(nb, tmp_path)
    with run.setup_kernel():
        for index, cell in enumerate(nb.cells):
            run.execute_cell(cell, index)
            built[cell.get("id")] = engine_files(cache)
    assert (tmp_path / "video.mp4").stat().st_size > 1000
    report = json.loads((tmp_path / "selftest.json").read_text())
    assert report["ok"] and report["batch"] == 8 and report["rows"] == []  # auto alone
    if report["auto"]["engine"].startswith("openvino"):  # the engine at the export's batch (torch caches nothing)
        assert any(p.name.endswith("-b8.xml") for p in built["selftest"])
    assert built["render"] == built["selftest"]  # the export built nothing: it loaded the self-test's engine
    shown = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
             if "text/html" in out.get("data", {})]
    assert shown and "<video" in shown[0]["data"]["text/html"]  # the video, inline


def test_empty_repository_url_stops_with_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.delenv("LIVE_INSTALLED", raising=False)
    monkeypatch.delenv("LIVE_REPO", raising=False)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells = [c for c in nb.cells if c.get("id") in ("settings", "install")]  # a fresh runtime: no clone here
    with pytest.raises(nbclient.exceptions.CellExecutionError, match="REPO_URL is empty: paste this project's git"):
        client(nb, tmp_path).execute()
    assert not (tmp_path / "live").exists()
