"""tools/gpu_check.py: one line and exit 2 without CUDA, the same code on the CPU (--cpu-smoke) with its JSON
report, parity that fails on a wrong frame, and nothing imported beyond torch, numpy and engine/graph.py.
The CUDA paths (fp16/bf16 on a GPU, CUDA graphs, peak memory) were not run here: no GPU."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from tools import gpu_check

TOOL = Path(__file__).resolve().parents[1] / "tools" / "gpu_check.py"


def test_without_cuda_one_line_and_exit_2():
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="")  # no GPU, whatever this machine has
    r = subprocess.run([sys.executable, str(TOOL)], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("gpu_check: no CUDA device here")


def test_cpu_smoke_report(tmp_path):
    out = tmp_path / "gpu.json"
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="")
    r = subprocess.run([sys.executable, str(TOOL), "--cpu-smoke", "--json", str(out)], capture_output=True,
                       text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr
    report = json.loads(out.read_text())
    assert report["ok"] and report["machine"]["device"] == "cpu" and report["width"] == 4
    assert "CUDA graphs: no CUDA device" in report["skipped"]
    rows = {(row["precision"], row["batch"]): row for row in report["rows"]}
    assert set(rows) == {("fp32", 1), ("fp32", 2), ("bf16", 1), ("bf16", 2)}
    for row in rows.values():
        assert row["resolution"] == 128 and row["ms_per_frame"] > 0 and row["cuda_graph"] is False
    assert rows[("fp32", 1)]["max_diff"] <= 1  # the same graph in fp32 on the same CPU
    assert rows[("bf16", 2)]["psnr_db"] >= gpu_check.MIN_PSNR["bf16"]
    assert "all parity checks passed" in r.stdout


def test_parity_fails_on_a_wrong_frame():
    ref = np.random.default_rng(0).integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)
    assert gpu_check.parity(ref, ref, "fp32")["parity_ok"]
    wrong = ref.copy()
    wrong[:, :4] = 255 - wrong[:, :4]  # half of each frame inverted
    assert not gpu_check.parity(wrong, ref, "fp16")["parity_ok"]


def test_imports_only_torch_numpy_and_the_graph():
    # the modules the tool adds to what `import torch, numpy` loads: only engine/graph.py and the standard library
    code = ("import sys, runpy, torch, numpy\n"
            "before = set(sys.modules)\n"
            "sys.argv = ['gpu_check', '--help']\n"
            "try:\n    runpy.run_path(%r)\nexcept SystemExit:\n    pass\n"
            "extra = {m for m in set(sys.modules) - before if m.split('.')[0] not in sys.stdlib_module_names}\n"
            "print('EXTRA', ' '.join(sorted(extra)))") % str(TOOL)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    extra = r.stdout.rsplit("EXTRA", 1)[1].split()
    assert extra == ["engine", "engine.graph"], extra
