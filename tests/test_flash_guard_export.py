"""`live --export ... --flash-guard on` on a tiny random model with the rave preset, 11 s in two segments (their
guards know the cut between them): the mp4 read back flashes at most three times a second (tests/flashes.py,
every pixel, after H.264), where the same export without the guard (the control) flashes more."""
import av

from tests.audio_fixtures import music, write
from tests.flashes import flashes_per_second
from tests.test_export import export_args, run_live


def frames(path):
    with av.open(str(path)) as c:
        got = [(f.to_ndarray(format="rgb24"), float(f.time)) for f in c.decode(video=0)]
    return [f for f, _ in got], [t for _, t in got]


def test_an_export_with_the_guard_flashes_at_most_three_times_a_second(tiny_model_dir, tmp_path):
    audio = write(tmp_path / "song.wav", music(11.0))
    counts = {}
    for guard in ("off", "on"):
        out = tmp_path / f"{guard}.mp4"
        r = run_live(*export_args(tiny_model_dir, audio, out, "--fps", 10, "--preset", "rave", "--seed", 1,
                                  "--flash-guard", guard))
        assert r.returncode == 0, r.stderr
        f, t = frames(out)
        assert len(f) == 110
        counts[guard] = flashes_per_second(t, f)
    assert max(counts["off"].values()) > 3, counts  # the control
    assert max(counts["on"].values()) <= 3, counts
