"""Preset hot reload: an edited preset re-applies what changed; a broken file keeps the look and says why."""
import os

from live.config import make_params
from live.control.actions import ChooseClasses, Reseed, SetParam, SetParams
from live.control.dispatch import Dispatcher
from live.control.look import Look
from live.control.presets import PresetReloader, PresetWatcher
from live.control.vj import VJ
from live.options import VJOptions


def touch(path, text):
    path.write_text(text)
    st = path.stat()  # make sure the mtime moves even on coarse-grained filesystems
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def test_watcher_reports_edited_new_and_deleted_files(tmp_path):
    a = tmp_path / "a.toml"
    touch(a, "jitter = 0.1\n")
    w = PresetWatcher(dirs=[tmp_path], interval=1.0)
    assert w.poll(now=10.0) == []
    touch(a, "jitter = 0.2\n")
    assert w.poll(now=10.5) == []  # polled about once a second, not more
    assert w.poll(now=11.1) == [a.resolve()]
    b = tmp_path / "b.toml"
    touch(b, "jitter = 0.3\n")
    a.unlink()
    assert w.poll(now=12.2) == sorted([a.resolve(), b.resolve()])
    assert w.poll(now=13.3) == []


def test_editing_the_current_preset_reloads_only_what_changed(tmp_path):
    p = tmp_path / "mine.toml"
    touch(p, 'truncation = 0.5\njitter = 0.4\nclasses = "jellyfish, volcano"\n')
    look = Look(make_params({"truncation": 0.5, "jitter": 0.4}), [107, 980], seed=0, preset=str(p),
                classes_given=True)
    w, reloader, d = PresetWatcher(dirs=[], files=[p]), PresetReloader(), Dispatcher(look)
    assert reloader.changed(look.preset, w.poll(now=0)) == []
    d.dispatch(SetParam("jitter", 0.9, "MIDI CC 2"))  # a knob tweak...
    touch(p, 'truncation = 0.25\njitter = 0.4\nclasses = "jellyfish, volcano"\n')
    [(requests, toast)] = reloader.changed(look.preset, w.poll(now=5))
    assert requests == [SetParam("truncation", 0.25, "preset mine.toml")] and toast == "preset mine reloaded"
    want = make_params({"truncation": 0.25, "jitter": 0.9})  # ...survives an edit of another key
    assert [a for r in requests for a in d.dispatch(r)[0]] == [SetParams(want)] and look.params == want
    touch(p, 'jitter = 0.4\nclasses = "coral reef"\nseed = 9\n')  # truncation removed: back to default
    [(requests, toast)] = reloader.changed(look.preset, w.poll(now=10))
    assert requests == [SetParam("truncation", 1.0, "preset mine.toml"), ChooseClasses("coral reef", "preset mine.toml"),
                        Reseed(9)]
    walker = [a for r in requests for a in d.dispatch(r)[0]]
    assert walker[-2:] == [d.look.set_classes([973])[0][0], Reseed(9)] and look.params == make_params({"jitter": 0.9})


def test_a_broken_preset_keeps_the_look_and_reports(tmp_path, capsys):
    p = tmp_path / "mine.toml"
    touch(p, "truncation = 0.5\n")
    look = Look(make_params({"truncation": 0.5}), list(range(12)), seed=0, preset=str(p))
    w, reloader, d = PresetWatcher(dirs=[], files=[p]), PresetReloader(), Dispatcher(look)
    reloader.changed(look.preset, w.poll(now=0))
    for i, broken in enumerate(["truncation = \n", "truncation = 7\n", "truncaton = 0.3\n"]):
        touch(p, broken)
        [(requests, toast)] = reloader.changed(look.preset, w.poll(now=5 + 2 * i))
        assert requests == [] and toast.startswith("preset mine.toml:1:")
        assert "keeping the current look" in toast and look.params.truncation == 0.5 and look.preset == str(p)
        assert capsys.readouterr().err.strip() == f"live: {toast}"
    touch(p, "truncation = 0.75\n")  # fixed: applies again
    [(requests, toast)] = reloader.changed(look.preset, w.poll(now=20))
    assert [a for r in requests for a in d.dispatch(r)[0]] and look.params.truncation == 0.75


def test_other_presets_are_checked_when_edited(tmp_path, capsys):
    other = tmp_path / "other.toml"
    touch(other, "jitter = 2\n")
    look = Look(make_params(), list(range(12)), seed=0)
    out = PresetReloader().changed(look.preset, [other.resolve()])
    assert out == [([], "preset other.toml:1: jitter = 2 is out of range 0–1")]
    assert "out of range" in capsys.readouterr().err


def test_vj_tick_polls_the_preset_given_as_a_path(tmp_path):
    p = tmp_path / "set.toml"
    touch(p, "jitter = 0.1\n")
    vj = VJ(VJOptions(), 44100, preset=str(p))
    look = Look(make_params({"jitter": 0.1}), list(range(12)), seed=0, preset=str(p))
    vj.tick(look.preset)
    touch(p, "jitter = 0.9\n")
    vj.watcher._next = 0  # don't wait for the next second
    out = vj.tick(look.preset)
    assert ([SetParam("jitter", 0.9, "preset set.toml")], "preset set reloaded") in out
    vj.close()
