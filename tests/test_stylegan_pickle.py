"""The safe loader: NVIDIA network pickles load as plain holders; nothing in a file runs (with controls that
show the same files DO run code under plain pickle / an exec-ing loader like NVIDIA's)."""

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from engine.errors import EngineError
from engine.stylegan.testmodel import load_skeleton, write_pickle
from engine.stylegan.unpickle import load_generator, load_pickle

DATA = Path(__file__).parent / "data" / "stylegan"


class _RunsCommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_loads_snapshot_and_bare_generator(tmp_path):
    skel = load_skeleton(DATA / "sg3-t.json")
    for snapshot in (True, False):
        path = write_pickle(tmp_path / f"g{snapshot}.pkl", skel, seed=3, snapshot=snapshot)
        g = load_generator(path)
        assert g.class_name == "Generator" and g.attr("z_dim") == 8 and g.attr("num_ws") == 8
        assert g["synthesis"]["input"].buffers["freqs"].shape[1] == 2
        names = g.tensors()
        assert "mapping.w_avg" in names and all(isinstance(t, torch.Tensor) for t in names.values())


def test_reduce_that_runs_a_command_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"G_ema": _RunsCommand(marker)}))
    with pytest.raises(EngineError, match=r"refused (posix|nt)\.system"):
        load_generator(path)
    assert not marker.exists()
    # control: plain pickle.load on the same file runs the command
    subprocess.run([sys.executable, "-c", f"import pickle; pickle.load(open({str(path)!r}, 'rb'))"], check=True,
                   cwd=tmp_path)
    assert marker.exists()


def test_embedded_module_source_is_never_executed(tmp_path):
    marker = tmp_path / "written-by-source"
    src = f"open({str(marker)!r}, 'w').write('ran')\nclass Generator:\n    pass\n"
    path = write_pickle(tmp_path / "evil.pkl", load_skeleton(DATA / "sg2-orig.json"), module_src=src)
    assert load_generator(path).class_name == "Generator"
    assert not marker.exists()
    # control: a loader that execs module_src, as NVIDIA's torch_utils.persistence does, writes the file
    pkg = tmp_path / "torch_utils"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "persistence.py").write_text(
        "import types\n"
        "def _reconstruct_persistent_obj(meta):\n"
        "    module = types.ModuleType('m')\n"
        "    exec(meta['module_src'], module.__dict__)\n"
        "    return module.__dict__.get(meta['class_name'])\n")
    subprocess.run([sys.executable, "-c", f"import pickle; pickle.load(open({str(path)!r}, 'rb'))"], check=True,
                   cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert marker.read_text() == "ran"


def test_unknown_persistent_class_is_refused(tmp_path):
    skel = json.loads((DATA / "sg2-orig.json").read_text())
    skel["modules"]["mapping"]["class"] = "Payload"
    path = write_pickle(tmp_path / "odd.pkl", skel)
    with pytest.raises(EngineError, match="refused persistent class 'Payload'"):
        load_pickle(path)


def test_bad_files_are_one_line(tmp_path):
    junk = tmp_path / "junk.pkl"
    junk.write_bytes(b"not a pickle at all")
    with pytest.raises(EngineError, match="not a readable network pickle"):
        load_generator(junk)
    with pytest.raises(EngineError, match="cannot read"):
        load_generator(tmp_path / "missing.pkl")
    other = tmp_path / "dict.pkl"
    other.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(EngineError, match="holds no generator"):
        load_generator(other)
    saved = tmp_path / "state.pt"
    torch.save({"w": torch.zeros(2)}, saved)
    with pytest.raises(EngineError, match="torch.save archive"):
        load_generator(saved)
