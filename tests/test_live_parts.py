"""Live-mode parts without a sound server: ring buffer, key actions in a real (dummy-driver) SDL window,
look changes, stats file, missing PortAudio."""
import os
import subprocess
import sys

import numpy as np
import pytest

from live.audio.capture import Ring
from live.config import PARAM_SPECS, make_params
from live.control import actions as A
from live.control.dispatch import Dispatcher
from live.control.look import Look
from live.control.presets import preset_order
from live.control.keys import HELP_ROWS, KEY_HELP, KEYS, PARAM_KEYS
from live.run.stats import LatencyHist, write_stats


def test_ring_mixes_to_mono_wraps_and_stamps():
    ring = Ring(capacity=1024, samplerate=1000, margin=16)
    assert ring.cap == 1024
    left = np.arange(300, dtype=np.float32)
    block = np.stack([left, -left + 2], axis=1)  # mean of the two channels is 1.0 everywhere
    got = []
    for i in range(10):  # 3000 samples through a 1024 ring: wraps several times
        ring.write(block, t_last=100.0 + i)
        x, t = ring.read(10_000)
        got.append(x)
        assert t == pytest.approx(100.0 + i)  # the last sample read is the block's last sample
    x = np.concatenate(got)
    assert len(x) == 3000 and np.all(x == 1.0)


def test_ring_partial_reads_carry_per_sample_times():
    ring = Ring(capacity=1024, samplerate=1000, margin=16)
    ring.write(np.ones((100, 1), np.float32), t_last=5.0)
    x, t = ring.read(40)
    assert len(x) == 40 and t == pytest.approx(5.0 - 60 / 1000)
    x, t = ring.read(1000)
    assert len(x) == 60 and t == pytest.approx(5.0)
    assert ring.read(10)[1] is None


def test_ring_reader_falling_behind_is_counted_and_skips_to_newest():
    ring = Ring(capacity=1024, samplerate=1000, margin=16)
    for i in range(20):
        ring.write(np.full((100, 1), i, np.float32), t_last=float(i))
    x, t = ring.read(10_000)
    assert ring.lagged == 1
    assert x[-1] == 19 and t == 19.0 and len(x) == 512


def test_every_param_has_a_key_and_the_overlay_lists_exactly_the_keys():
    assert sorted(PARAM_KEYS.values()) == sorted(PARAM_SPECS)
    listed = [k for _, keys, _ in HELP_ROWS for k in keys]
    assert sorted(listed) == sorted(KEYS) and len(listed) == len(set(listed))  # each key once, none missing
    for label, _, what in HELP_ROWS:
        assert f"  {label}" in KEY_HELP and what.splitlines()[0] in KEY_HELP
    assert all(isinstance(a, A.Action) for a in KEYS.values())


def test_look_changes_stay_in_range_and_make_walker_commands():
    look = Look(make_params(), classes=list(range(12)), seed=1)
    d = Dispatcher(look)
    for _ in range(100):
        cmds, toast = d.dispatch(A.Nudge(None, +5))  # the selected parameter: truncation
    assert look.params.truncation == PARAM_SPECS["truncation"].max and toast == "truncation 1"
    cmds, _ = d.dispatch(A.Nudge("num_classes", -100))
    assert look.params.num_classes == 1 and len(look.classes) == 1  # random classes follow the count
    assert cmds == [A.SetClasses(tuple(look.classes)), A.SetParams(look.params)]
    cmds, _ = d.dispatch(A.NewSeed())
    assert cmds == [A.Reseed(look.seed)]
    cmds, _ = d.dispatch(A.ToggleFreeze())
    assert cmds == [A.Freeze(True)] and look.frozen
    cmds, toast = d.dispatch(A.LoadPreset(number=1))
    assert look.preset == preset_order()[0] == "default" and cmds[-1] == A.SetParams(look.params)
    if len(preset_order()) < 9:  # a missing preset is a toast, not a crash
        assert d.dispatch(A.LoadPreset(number=9)) == ([], f"no preset 9 (there are {len(preset_order())})")


def test_latency_percentiles_and_the_stats_file(tmp_path):
    hist = LatencyHist()
    for ms in range(1, 101):
        hist.add(float(ms))
    # 0.5 ms bins, reported at the bin centre to 0.1 ms: the 50th of 1..100 ms is in [50, 50.5), the 95th in [95, 95.5)
    assert (hist.percentile(50), hist.percentile(95)) == (50.2, 95.2)
    assert LatencyHist().percentile(50) is None
    path = tmp_path / "s.json"
    write_stats(str(path), {"latency_ms_p50": hist.percentile(50), "latency_ms_p95": None, "backend": "torch"})
    assert path.read_text() == '{\n  "latency_ms_p50": 50.2,\n  "latency_ms_p95": null,\n  "backend": "torch"\n}\n'
    assert os.listdir(tmp_path) == ["s.json"]  # written under a temp name, renamed, nothing left


KEYS_SCRIPT = r"""
import pygame
from live.show.window import Display
d = Display("live — test", (128, 128), scale_filter="nearest")
assert "live" in pygame.display.get_caption()[0]
def key(k, uni="", mod=0):
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=k, unicode=uni, mod=mod, scancode=0))
key(pygame.K_u, "u"); key(pygame.K_UP); key(pygame.K_DOWN, mod=pygame.KMOD_SHIFT); key(pygame.K_RIGHT)
key(pygame.K_SPACE, " "); key(pygame.K_r, "r"); key(pygame.K_c, "c"); key(pygame.K_3, "3")
key(pygame.K_h, "h"); key(pygame.K_SLASH, "?"); key(pygame.K_f, "f"); key(pygame.K_b, "b"); key(pygame.K_q, "q")
acts = d.poll()
print(acts)
from live.control import actions as A
assert acts == [A.Select("truncation"), A.Nudge(None, 1), A.Nudge(None, -5), A.Select(step=1),
                A.ToggleFreeze(), A.NewSeed(), A.NewClasses(), A.LoadPreset(number=3), A.ToggleHud(),
                A.ToggleHelp(), A.ToggleFullscreen(), A.ToggleMeters(), A.Quit()], acts
d.toggle_hud(); d.toggle_help()
import numpy as np
frame = np.zeros((128, 128, 3), np.uint8); frame[:, :64] = 255
d.show(frame, ["hud line"], level=0.5)
px = pygame.display.get_surface().get_at((10, 500))
assert tuple(px)[:3] == (255, 255, 255), px  # the frame is scaled to the 512 px canvas
d.toggle_help()
bar = (470, 10 + d.small_font.get_linesize() // 2)  # the first meter's bar, at the right edge
for value, green in ((0.0, False), (1.0, False), (1.0, True)):
    if green:
        d.toggle_meters()  # b: the meter view of the sources
    d.show(frame, ["hud line"], level=0.5, meters=(["bass", "high"], [value, 0.2]))
    px = tuple(pygame.display.get_surface().get_at(bar))[:3]
    assert (px == (60, 200, 90)) == green, (value, green, px)
d.close()
print("ok")
"""


def test_window_keys_map_to_actions():
    env = dict(os.environ, SDL_VIDEODRIVER="dummy", PYGAME_HIDE_SUPPORT_PROMPT="1")
    r = subprocess.run([sys.executable, "-c", KEYS_SCRIPT], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), r.stdout + r.stderr


NO_PORTAUDIO = r"""
import sys
class Fail:
    def find_spec(self, name, path=None, target=None):
        if name == "sounddevice":
            raise OSError("PortAudio library not found")
sys.meta_path.insert(0, Fail())
from live.cli import main
sys.exit(main(["-l"]))
"""


def test_missing_portaudio_is_one_line_naming_the_package():
    r = subprocess.run([sys.executable, "-c", NO_PORTAUDIO], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("live: ") and "libportaudio2" in lines[0], r.stderr
