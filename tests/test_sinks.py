"""Video sinks: the one-slot mailbox (a slow sink drops and counts, never blocks), --output-size scaling, a
missing library or platform as one line, and each adapter against its library's API. NDI runs for real on
loopback; pyvirtualcam, syphon-python and SpoutGL need a v4l2loopback device, macOS or Windows, so their
adapters are tested here against fakes of the calls they make."""
import sys
import threading
import time
import types

import numpy as np
import pytest

from live.show.sinks import Outputs, letterbox
from live.show.sinks.base import Sink


def frame(v, w=64, h=48):
    return np.full((h, w, 3), v, np.uint8)


class Slow(Sink):
    kind = "slow"

    def __init__(self, name):
        super().__init__(name)
        self.got, self.gate = [], threading.Event()

    def write(self, f):
        self.gate.wait(5)
        self.got.append(f)


def wait_for(cond, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_a_slow_sink_drops_frames_and_never_blocks_the_caller():
    outs = Outputs.open([("slow", "x")], (64, 48), 60, kinds={"slow": Slow})
    sink = outs.sinks[0]
    t0 = time.monotonic()
    for v in range(50):
        outs.offer(frame(v))
    assert time.monotonic() - t0 < 0.5  # offers return at once though the sink is stuck
    sink.gate.set()
    wait_for(lambda: sink.got and sink.got[-1][0, 0, 0] == 49)  # the newest frame always gets through
    outs.close()
    assert sink.sent + sink.dropped == 50 and sink.dropped >= 48


def test_output_size_scales_once_letterboxed_for_every_sink():
    class Keep(Slow):
        def write(self, f):
            self.got.append(f)

    outs = Outputs.open([("keep", "a"), ("keep", "b")], (64, 48), 60, size=(160, 90),
                        kinds={"keep": Keep})
    img = frame(200)
    outs.offer(img)
    wait_for(lambda: all(s.got for s in outs.sinks))
    outs.close()
    a, b = (s.got[0] for s in outs.sinks)
    assert a is b and a.shape == (90, 160, 3)  # one scaled copy shared by both
    assert a[45, 80, 0] == 200 and a[45, 0, 0] == 0  # 4:3 in 16:9: black bars left and right
    assert letterbox(img, (128, 96), smooth=False).shape == (96, 128, 3)


def test_a_missing_library_is_one_line_and_the_others_go_on(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyvirtualcam", None)  # import fails
    monkeypatch.setattr(sys, "platform", "linux")
    outs = Outputs.open([("vcam", ""), ("syphon", "live"), ("spout", "live"), ("slow", "x")], (64, 48), 60,
                        kinds={**_real_kinds(), "slow": Slow})
    outs.close()
    err = capsys.readouterr().err.strip().splitlines()
    assert [s.kind for s in outs.sinks] == ["slow"]
    assert len(err) == 3 and all(line.startswith("live: --") for line in err), err
    assert "pip install pyvirtualcam" in err[0] and "needs macOS" in err[1] and "needs Windows" in err[2]


def _real_kinds():
    from live.show.sinks import _kinds
    return _kinds()


def test_a_sink_that_fails_while_running_says_so_once_and_stops(capsys):
    class Breaks(Sink):
        kind = "breaks"

        def write(self, f):
            raise OSError("device gone")

    outs = Outputs.open([("breaks", "x")], (64, 48), 60, kinds={"breaks": Breaks})
    for v in range(5):
        outs.offer(frame(v))
        time.sleep(0.02)
    outs.close()
    assert outs.stats()[0]["error"] == "device gone"
    assert capsys.readouterr().err.count("stopped (device gone)") == 1


# ---- adapters against fakes of pyvirtualcam, syphon-python, SpoutGL ----------------------------------------------
def test_vcam_adapter_sends_rgb_frames_of_the_output_size(monkeypatch):
    sent, opened = [], {}

    class Camera:
        def __init__(self, width, height, fps, fmt=None):
            opened.update(width=width, height=height, fps=fps, fmt=fmt)
            self.device = "/dev/video7"

        def send(self, f):
            sent.append(f.copy())

        def close(self):
            opened["closed"] = True

    fake = types.SimpleNamespace(Camera=Camera, PixelFormat=types.SimpleNamespace(RGB="RGB"))
    monkeypatch.setitem(sys.modules, "pyvirtualcam", fake)
    outs = Outputs.open([("vcam", "")], (64, 48), 50, kinds=_real_kinds())
    outs.offer(frame(7))
    wait_for(lambda: sent)
    outs.close()
    assert opened == dict(width=64, height=48, fps=50, fmt="RGB", closed=True)
    assert sent[0].shape == (48, 64, 3) and outs.stats()[0]["name"] == "/dev/video7"


def test_syphon_adapter_publishes_rgba_textures(monkeypatch):
    calls = []
    server = types.SimpleNamespace(device="mtl", publish_frame_texture=lambda t: calls.append(("publish", t)),
                                   stop=lambda: calls.append(("stop",)))
    syphon = types.ModuleType("syphon")
    syphon.SyphonMetalServer = lambda name: calls.append(("server", name)) or server
    np_utils = types.SimpleNamespace(copy_image_to_mtl_texture=lambda img, tex: calls.append(("copy", img.shape,
                                                                                               int(img[0, 0, 3]))))
    raw = types.SimpleNamespace(create_mtl_texture=lambda dev, w, h: ("texture", dev, w, h))
    monkeypatch.setattr(sys, "platform", "darwin")
    for name, mod in {"syphon": syphon, "syphon.utils": types.ModuleType("syphon.utils"),
                      "syphon.utils.numpy": np_utils, "syphon.utils.raw": raw}.items():
        monkeypatch.setitem(sys.modules, name, mod)
    outs = Outputs.open([("syphon", "live")], (64, 48), 60, kinds=_real_kinds())
    outs.offer(frame(9))
    wait_for(lambda: any(c[0] == "publish" for c in calls))
    outs.close()
    tex = ("texture", "mtl", 64, 48)
    assert calls == [("server", "live"), ("copy", (48, 64, 4), 255), ("publish", tex), ("stop",)]


def test_spout_adapter_sends_rgb_images_and_signals_each_frame(monkeypatch):
    calls = []

    class SpoutSender:
        def setSenderName(self, name):
            calls.append(("name", name))

        def sendImage(self, buf, w, h, fmt, invert, fbo):
            calls.append(("image", buf.shape, w, h, fmt, invert, fbo))
            return True

        def setFrameSync(self, name):
            calls.append(("sync", name))

        def releaseSender(self):
            calls.append(("release",))

    spout = types.ModuleType("SpoutGL")
    spout.SpoutSender = SpoutSender
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setitem(sys.modules, "SpoutGL", spout)
    monkeypatch.setitem(sys.modules, "SpoutGL.enums", types.SimpleNamespace(GL_RGB=0x1907))
    outs = Outputs.open([("spout", "live")], (64, 48), 60, kinds=_real_kinds())
    outs.offer(frame(3))
    wait_for(lambda: any(c[0] == "sync" for c in calls))
    outs.close()
    assert calls == [("name", "live"), ("image", (48, 64, 3), 64, 48, 0x1907, False, 0), ("sync", "live"),
                     ("release",)]


# ---- NDI for real, on loopback ------------------------------------------------------------------------------
def test_ndi_sink_is_received_on_loopback():
    ndi = pytest.importorskip("NDIlib", reason="ndi-python not installed: pip install ndi-python")
    from tests.ndi_receiver import NdiReceiver

    outs = Outputs.open([("ndi", "live-sink-test")], (64, 48), 60, kinds=_real_kinds())
    try:
        with NdiReceiver("live-sink-test") as rx:
            got = rx.collect(lambda: outs.offer(frame(120)), count=3, timeout=20)
    finally:
        outs.close()
    assert len(got) == 3 and all(f.shape == (48, 64, 4) for f, _ in got)
    assert abs(int(got[-1][0][10, 10, 0]) - 120) <= 6  # NDI's codec is lossy
    assert outs.stats()[0]["sent"] >= 3
    del ndi
