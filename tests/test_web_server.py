"""The web control's server without a live set (fast): the token off the default loopback address (127.0.0.2
stands in for a venue network's address), the Origin check, junk over the socket dropped and counted while good
messages still arrive, and the page's messages as actions of the one vocabulary."""
import asyncio
import json
import time
import urllib.error
import urllib.request

import aiohttp
import pytest

from live.control import actions as A
from live.control.dispatch import Inbox
from live.control.web import protocol as P
from live.control.web.server import MAX_MESSAGE, WebControl


@pytest.fixture
def served(request):
    web = WebControl(request.param, Inbox()).start()
    yield web
    web.close()


def get(url: str, headers=None) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


@pytest.mark.parametrize("served", ["127.0.0.2:0"], indirect=True)
def test_off_loopback_every_request_needs_the_token(served):
    base = f"http://127.0.0.2:{served.port}"
    assert served.token and served.url() == f"{base}/?token={served.token}"
    for path in ("/", "/app.js", "/api/controls", "/ws"):
        assert get(base + path) == 401, path
        assert get(f"{base}{path}?token=wrong-{served.token}") == 403, path
    assert get(served.url()) == 200 and get(f"{base}/api/controls?token={served.token}") == 200
    assert get(base + "/api/controls", {"Cookie": f"live_token_{served.port}={served.token}"}) == 200  # the page's
    assert get(base + "/api/controls", {"Cookie": f"live_token_{served.port}=nope"}) == 403


@pytest.mark.parametrize("served", ["127.0.0.1:0"], indirect=True)
def test_on_loopback_no_token_but_only_this_machines_names(served):
    assert served.token is None
    assert get(f"http://127.0.0.1:{served.port}/") == 200
    assert get(f"http://localhost:{served.port}/api/controls") == 200
    # a site whose name was rebound to 127.0.0.1 sends its own name as Host
    assert get(f"http://127.0.0.1:{served.port}/", {"Host": f"evil.example:{served.port}"}) == 403


async def _ws(url, origin=None):
    async with aiohttp.ClientSession() as s:
        try:
            async with s.ws_connect(url, origin=origin) as ws:
                await ws.close()
                return 101
        except aiohttp.WSServerHandshakeError as e:
            return e.status


@pytest.mark.parametrize("served", ["127.0.0.1:0"], indirect=True)
def test_the_socket_refuses_a_foreign_origin(served):
    url = f"http://127.0.0.1:{served.port}/ws"
    assert asyncio.run(_ws(url, origin="http://evil.example")) == 403
    assert asyncio.run(_ws(url, origin=f"http://127.0.0.1:{served.port}")) == 101  # the page's own origin
    assert asyncio.run(_ws(url)) == 101  # a program (no Origin): no other site is involved


@pytest.mark.parametrize("served", ["127.0.0.1:0"], indirect=True)
def test_junk_is_dropped_and_counted_and_good_messages_still_arrive(served):
    async def talk():
        async with aiohttp.ClientSession() as s:
            async with s.ws_connect(f"http://127.0.0.1:{served.port}/ws") as ws:
                for junk in ("{", "[1, 2]", '{"type": "param", "name": "nope", "value": 1}',
                             '{"type": "param", "name": "jitter", "value": "x"}',
                             '{"type": "preset", "name": "../../etc/passwd"}', '{"type": "action", "name": "quit"}'):
                    await ws.send_str(junk)
                await ws.send_bytes(b"\x00\x01")
                for _ in range(400):  # far over the flood limit (bursts of 100)
                    await ws.send_str('{"type": "action", "name": "tap"}')
                await asyncio.sleep(0.1)  # the bucket refills (50 a second)
                await ws.send_str('{"type": "search", "q": "jellyfish"}')
                while True:  # the reply to this page only (state may come first)
                    msg = json.loads((await ws.receive(timeout=10)).data)
                    if msg["type"] == "found":
                        return msg
            # (the reply shows the socket outlived the junk)

    found = asyncio.run(talk())
    assert found["classes"][0] == dict(id=107, name="jellyfish", synonyms=[])
    got = served.inbox.drain()
    assert 50 <= len(got) <= 200 and set(got) == {A.Tap()}, len(got)  # the burst passed, the flood did not
    assert served.drops.total >= 7 + 200
    text = served.drops.report()
    assert "malformed 6" in text and "binary 1" in text and "flooding" in text, text

    async def oversized():
        async with aiohttp.ClientSession() as s:
            async with s.ws_connect(f"http://127.0.0.1:{served.port}/ws") as ws:
                await ws.send_str('{"type": "lyrics", "text": "' + "x" * MAX_MESSAGE + '"}')
                while (await ws.receive(timeout=10)).type not in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                                                                  aiohttp.WSMsgType.CLOSING):
                    pass
    asyncio.run(oversized())
    deadline = time.monotonic() + 10
    while "oversized" not in served.drops.reasons and time.monotonic() < deadline:
        time.sleep(0.01)  # the server counts it as it closes that socket
    assert served.drops.reasons["oversized"] == 1, served.drops.reasons
    assert asyncio.run(_ws(f"http://127.0.0.1:{served.port}/ws")) == 101  # the server still answers


def test_messages_become_actions_of_the_one_vocabulary():
    names = {p["name"] for p in P.describe()["params"]}
    assert P.parse('{"type": "param", "name": "truncation", "value": 0.3}', names) == \
        ("action", A.SetParam("truncation", 0.3, "web"))
    assert P.parse('{"type": "action", "name": "freeze"}', names) == ("action", A.ToggleFreeze())
    assert P.parse('{"type": "preset", "name": "rave"}', names) == ("action", A.LoadPreset(name="rave", source="web"))
    assert P.parse('{"type": "classes", "spec": "jellyfish, 980"}', names) == \
        ("action", A.ChooseClasses("jellyfish, 980", "web"))
    for bad in ('{"type": "preset", "name": "/tmp/x.toml"}', '{"type": "param", "name": "truncation", "value": true}',
                '{"type": "classes", "spec": "  "}', '"freeze"', '{"type": "preview", "on": 1}'):
        with pytest.raises(P.Malformed):
            P.parse(bad, names)
    extra = dict(name="mod_bass_truncation", label="bass → truncation", min=-1, max=1, integer=False)
    assert P.describe([extra])["params"][-1] == extra  # rows others add become sliders too
    assert [c["id"] for c in P.search("killer whale")][:1] == [148]  # a synonym, as --classes takes it


def test_drops_are_reported_at_most_every_few_seconds():
    now = [0.0]
    drops = P.Drops(every_s=5, clock=lambda: now[0])
    assert drops.report() is None
    drops.count("malformed", 3)
    assert drops.report() == "web: dropped 3 messages (malformed 3); the show goes on"
    drops.count("flooding", 1000)
    now[0] = 4.9
    assert drops.report() is None  # too soon: the count waits
    now[0] = 5.0
    assert drops.report() == "web: dropped 1000 messages (flooding 1000); the show goes on"
    assert drops.total == 1003 and drops.report() is None
    drops.count("oversized")
    now[0] = 6.0
    assert drops.report() is None and drops.report(last=True) == \
        "web: dropped 1 message (oversized 1); the show goes on"  # as the set ends


@pytest.mark.parametrize("served", ["127.0.0.1:0"], indirect=True)
def test_pasted_lyrics_choose_the_classes_lyrics_would(served, tmp_path):
    from live.control.look import start_look
    from live.options import LookOptions, LyricsOptions

    song = "Salt wind blowing off the sea\nDown beneath the coral reef\nthe jellyfish are glowing\n"
    (tmp_path / "song.txt").write_text(song)
    food = tmp_path / "food.txt"
    food.write_text("pizza and a cheeseburger\nhot dog with mustard\nice cream and espresso\n")
    want = start_look(LookOptions(params=(("num_classes", 6),), lyrics=LyricsOptions(tmp_path / "song.txt")), True)
    served.publish(dict(params=dict(num_classes=6)))  # the look in force has 6 classes

    async def paste(text):
        async with aiohttp.ClientSession() as s:
            async with s.ws_connect(f"http://127.0.0.1:{served.port}/ws") as ws:
                await ws.send_str(json.dumps(dict(type="lyrics", text=text)))

    def chosen(timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = served.inbox.drain()
            if got:
                return got
            time.sleep(0.05)  # the text model loads on a worker thread
        pytest.fail("no classes from the lyrics")

    asyncio.run(paste(song))
    assert chosen() == [A.ChooseClasses(",".join(map(str, want.classes)), "web lyrics")]
    asyncio.run(paste(str(food)))  # a file's name is lyrics text here: the page never reads a file
    got = chosen()[0].spec.split(",")
    food_ids = start_look(LookOptions(params=(("num_classes", 6),), lyrics=LyricsOptions(food)), True).classes
    assert len(got) == 6 and got != [str(i) for i in food_ids]


def test_reports_queued_as_the_set_ends_are_still_said(capsys):
    from live.control.vj import VJ
    from live.options import VJOptions

    vj = VJ(VJOptions(), 44100)
    vj.inbox.put(A.Report("web: dropped 3 messages (malformed 3); the show goes on"))
    vj.inbox.put(A.Tap())  # not a report: nothing to say
    vj.close()
    assert capsys.readouterr().err == "live: web: dropped 3 messages (malformed 3); the show goes on\n"


def test_modulation_rows_are_sliders_of_their_own():
    """A preset's rows come with the state (named modN, as MIDI maps name them) and their sliders send the row's
    amount; a row number that is not a number is junk."""
    from live.config import WalkerParams
    from live.control.look import Look
    from live.walk.modulation import Matrix, Row

    look = Look(WalkerParams(), [1, 2], 0, "mine", True, Matrix((Row("bass", "truncation", -0.6),
                                                                  Row("lfo1", "dir1", 1.5))))
    mods = P.look_state(look, [1, 2])["mods"]
    assert [(m["name"], m["min"], m["max"], m["value"]) for m in mods] == [("mod1", -1.0, 1.0, -0.6),
                                                                          ("mod2", -3.0, 3.0, 1.5)]
    kind, action = P.parse('{"type": "param", "name": "mod2", "value": -0.4}', {"truncation"})
    assert kind == "action" and action == A.SetAmount(2, -0.4, "web")
    for junk in ('{"type": "param", "name": "mod0", "value": 1}', '{"type": "param", "name": "modx", "value": 1}',
                 '{"type": "param", "name": ["mod1"], "value": 1}'):
        with pytest.raises(P.Malformed):
            P.parse(junk, {"truncation"})
