"""Ableton Link: two real sessions (aalink) in this process find each other, share tempo and phase, and tap
tempo from live reaches the other peer; the VJ rig plans cuts on Link's beats once a peer is there; the Link
switch is one action from keys, OSC and MIDI words."""
import time

import numpy as np
import pytest

from live.analysis.features import Frame
from live.control import actions as A
from live.control.osc import parse_message
from live.control.vj import LINK_SETTLE_S, VJ
from live.options import VJOptions

aalink = pytest.importorskip("aalink", reason="aalink not installed: pip install aalink")


def wait_for(cond, timeout=15.0):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_two_sessions_share_tempo_and_phase_and_a_proposed_tempo_spreads():
    from live.control.link import LinkSession

    first = LinkSession(4, 128)
    try:
        time.sleep(1.0)  # the older session's tempo wins when they meet (a second older is clear)
        second = LinkSession(4, 100)
        try:
            wait_for(lambda: second.state().peers >= 1 and second.state().tempo == pytest.approx(128))
            a, b = first.state(), second.state()
            assert abs((a.beat_at(b.t) - b.beat + 2) % 4 - 2) < 0.01  # the same phase within the quantum
            nxt = b.next_beat(4)
            assert nxt % 4 == 0 and 0 < b.time_of(nxt) - b.t <= 4 * 60 / 128 + 1e-6
            second.propose_tempo(96.0)  # tap tempo
            wait_for(lambda: first.state().tempo == pytest.approx(96, abs=0.01))
        finally:
            second.close()
    finally:
        first.close()


class FakeLink:
    def __init__(self, peers=1, tempo=128.0):
        from live.control.link import LinkState
        self.proposed, self.peers, self.tempo, self.LinkState = [], peers, tempo, LinkState

    def state(self):
        now = time.monotonic()
        return self.LinkState(True, self.tempo, self.peers, now * self.tempo / 60, now, 4.0)

    def propose_tempo(self, bpm):
        self.proposed.append(bpm)

    def close(self):
        pass


def test_vj_takes_cuts_from_link_once_a_peer_settled_and_taps_propose_the_tempo():
    vj = VJ(VJOptions(cut_on_beat=4), 22050)
    vj.link = FakeLink()
    now = time.monotonic()
    assert vj.forecast(now) is None  # the peer just appeared: the tracker (no beat yet) leads for a moment
    fc = vj.forecast(now + LINK_SETTLE_S)
    beat = fc.t_cut * 128 / 60  # the fake's beat is monotonic time at 128 BPM
    assert abs(beat / 4 - round(beat / 4)) < 1e-6 and fc.period == pytest.approx(60 / 128)
    for t in (0.0, 0.5, 1.0):
        vj.tap()
        vj._taps[-1] = t  # taps half a second apart, fed at frame times
        vj.on_frame(Frame(0, t, np.zeros(12, np.float32), 0.0, 0.0), t_capture=t)
    assert vj.link.proposed and vj.link.proposed[-1] == pytest.approx(120)
    assert "LINK 128.0 BPM 1 peer" in vj.hud()
    vj.close()


def test_link_switch_is_an_action_everywhere():
    from live.control.keys import KEYS

    assert KEYS["l"] == A.LinkSync() and A.NAMED["link"] == A.LinkSync()
    assert parse_message("/live/link", []) == A.LinkSync(None)
    assert parse_message("/live/link", [0]) == A.LinkSync(False)
    assert parse_message("/live/link", [1]) == A.LinkSync(True)
    from live.control.dispatch import Dispatcher
    from live.control.look import Look
    from live.config import make_params

    calls = []
    d = Dispatcher(Look(make_params({}), [1, 2], 0), link=lambda on: calls.append(on) or "Link on")
    assert d.dispatch(A.LinkSync(True)) == ([], "Link on") and calls == [True]
