"""`live --selftest`: every usable backend/device/precision built, checked against torch fp32 and timed; the
table, the JSON report, the exit code; `--json [FILE]` for --list-classes too; first-run progress lines."""

import json
import time

import pytest

from engine import progress
from live import cli


@pytest.fixture(scope="module", autouse=True)
def engine_cache(tmp_path_factory):
    path = tmp_path_factory.getbasetemp() / "live-cache"  # shared with test_backends.py: one export, one compile
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LIVE_CACHE_DIR", str(path))
        yield path


@pytest.fixture(scope="module")
def report(tiny_model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("selftest") / "report.json"
    code = cli.main(["--selftest", "--model", str(tiny_model_dir), "--json", str(out)])
    return code, json.loads(out.read_text())


def test_selftest_covers_every_usable_backend_and_precision(report):
    from engine.backends import SUPPORTS, candidates, list_devices

    code, rep = report
    assert code == 0 and rep["ok"]
    rows = {(r["backend"], r["device"], r["asked"]): r for r in rep["rows"]}
    # every usable candidate of this machine, each precision it can be asked for
    expected = {(c.backend, c.device, p) for c in candidates() for p in SUPPORTS[(c.backend, c.device)]}
    assert rows.keys() == expected
    assert ("torch", "cpu", "fp32") in rows  # every machine has it
    for row in rows.values():
        if "error" in row:  # a precision this hardware lacks
            continue
        # parity on the small model and at the --model size, both against torch fp32
        assert row["parity_ok"] and row["model_parity_ok"] and row["ms_per_frame"] > 0 and row["build_s"] >= 0
        assert row["psnr_db"] is None or row["psnr_db"] >= 28
    assert rows[("torch", "cpu", "fp32")]["max_diff"] <= 2
    # what auto chose, and why: the first usable candidate of the chain that builds here
    first = candidates()[0]
    assert rep["auto"]["engine"].startswith(f"{first.backend}-") and rep["auto"]["parity_ok"]
    unusable = [f"{c.backend} on {c.device}: " for c in list_devices() if not c.usable]
    assert all(part in rep["auto"]["why"].split("not usable here: ", 1)[-1] for part in unusable)
    assert rep["machine"]["torch"] and rep["timing_model"].endswith(rep["model"])
    devices = {(d["backend"], d["device"]): d["usable"] for d in rep["devices"]}
    assert devices[("openvino", "CPU")] and devices[("torch", "cpu")]


def test_table_and_json_on_stdout(tiny_model_dir, capsys, monkeypatch):
    monkeypatch.setattr(progress, "sink", lambda line: None)
    code = cli.main(["--selftest", "--model", str(tiny_model_dir), "--backend", "torch", "--precision", "fp32",
                     "--json"])
    out, err = capsys.readouterr()
    rep = json.loads(out)  # stdout is the JSON alone; the table went to stderr
    assert code == 0 and [r["engine"] for r in rep["rows"]] == ["torch-cpu-fp32"]
    assert "torch-cpu-fp32" in err and f"auto picks {rep['auto']['engine']}" in err and "self-test passed" in err
    assert "PSNR" in err and ">=45 dB" in err  # the bar each row is held to, not a bare max diff


def test_int8_row_reads_as_psnr_with_its_bar():
    from engine import selftest

    row = {"backend": "openvino", "device": "CPU", "asked": "int8", "engine": "openvino-int8", "build_s": 1.0,
           "precision": "int8", "psnr_db": 33.1, "max_diff": 233, "parity_ok": True, "model_psnr_db": 35.2,
           "model_max_diff": 240, "model_parity_ok": True, "ms_per_frame": 17.4}
    report = {"rows": [row], "auto": {"engine": "openvino-bf16", "why": "x"}, "ok": True, "model": "m",
              "timing_model": "random", "batch": 1}
    line = selftest.format_table(report).splitlines()[2]
    assert "33.1" in line and "35.2" in line and ">=28 dB" in line and "ok" in line and "233" not in line


def test_auto_only_at_the_model_size_and_batch(tiny_model_dir, monkeypatch):
    from engine import selftest

    monkeypatch.setattr(progress, "sink", lambda line: None)
    rep = selftest.run(str(tiny_model_dir), auto_only=True, batch=2, repeats=1)
    assert rep["rows"] == [] and rep["batch"] == 2 and rep["ok"]
    assert rep["auto"]["model_parity_ok"] and rep["auto"]["ms_per_frame"] > 0
    monkeypatch.setattr(selftest, "MIN_PSNR", {p: 1000.0 for p in selftest.MIN_PSNR})  # control: nothing passes
    assert not selftest.run(str(tiny_model_dir), auto_only=True, batch=2, repeats=1)["ok"]


def test_exit_code_when_auto_fails_parity(tiny_model_dir, capsys, monkeypatch):
    from engine import selftest

    monkeypatch.setattr(progress, "sink", lambda line: None)
    monkeypatch.setattr(selftest, "MIN_PSNR", {p: 1000.0 for p in selftest.MIN_PSNR})  # nothing can pass
    assert cli.main(["--selftest", "--model", str(tiny_model_dir), "--backend", "torch", "--precision", "fp32"]) == 1
    assert "self-test FAILED" in capsys.readouterr().out


def test_list_classes_json_to_stdout_or_file(tmp_path, capsys):
    assert cli.main(["--list-classes", "--search", "shark", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert any(r["name"] == "great white shark" for r in rows)
    out = tmp_path / "classes.json"
    assert cli.main(["--list-classes", "--search", "shark", "--json", str(out)]) == 0
    assert json.loads(out.read_text()) == rows and capsys.readouterr().out == ""


def test_progress_says_nothing_for_quick_steps_and_times_slow_ones(monkeypatch):
    lines = []
    monkeypatch.setattr(progress, "sink", lines.append)
    monkeypatch.setattr(progress, "TICK_S", 0.1)
    with progress.step("loading a cached engine"):
        pass
    assert lines == []
    with progress.step("building an engine", silent_s=0.05):
        time.sleep(0.3)
    assert lines[0] == "engine: building an engine..."
    assert any("still at it" in line for line in lines[1:-1])
    assert lines[-1].startswith("engine: building an engine: done in 0.")
    lines.clear()
    with pytest.raises(RuntimeError):
        with progress.step("exporting", silent_s=0):
            raise RuntimeError("boom")
    assert lines[-1].startswith("engine: exporting: failed after")


def test_int8_hint():
    from engine.hints import int8_hint

    class Engine:
        def __init__(self, name, device):
            self.name, self.device = name, device

    assert "--precision int8" in int8_hint(Engine("openvino-fp32", "CPU"), 9.7)
    assert "--precision int8" in int8_hint(Engine("torch-cpu-bf16", "cpu"), 15)
    assert int8_hint(Engine("openvino-fp32", "CPU"), 25) == ""  # fast enough
    assert int8_hint(Engine("openvino-int8", "CPU"), 9) == ""  # already int8
    assert int8_hint(Engine("torch-cuda-fp16", "cuda"), 9) == ""  # not a CPU
    assert int8_hint(Engine("openvino-fp32", "CPU"), 0) == ""  # not measured yet
