"""The control page of a running `live --web` in a real Chromium (Playwright; Debian's chromium, never a
downloaded one), headless live on the virtual mic with the tiny model: a slider moved on one page reaches the
second page and the walker (the recording has it), a button press arrives, a change made by OSC shows on the
pages, the preview moves, a foreign Origin is refused, junk over the socket leaves the show running, and off
127.0.0.1 the page needs the token (the loopback case without one: tests/test_web_server.py)."""
import asyncio
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from live.config import PARAM_SPECS
from live.recordings.replay import replay_steps
from tests import vmic

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [pytest.mark.skipif(vmic.missing() is not None, reason=str(vmic.missing())),
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium not found: apt-get install chromium")]


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed: pip install playwright")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


class Live:
    """`live --web` as a subprocess; its stderr lines are read on a thread (the URL, the reports)."""

    def __init__(self, mic, model, *args):
        self.app = subprocess.Popen(
            [sys.executable, "-m", "live", "-d", "pulse", "--model", str(model), "--backend", "torch",
             "--no-window", "--seed", "3", "--duration", "120", *args],
            env=mic.env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines: queue.SimpleQueue = queue.SimpleQueue()
        self.err: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.app.stderr:
            self.err.append(line)
            self.lines.put(line)

    def url(self, timeout=120) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                m = re.search(r"web control at (\S+)", self.lines.get(timeout=1))
            except queue.Empty:
                assert self.app.poll() is None, "".join(self.err)[-2000:]
                continue
            if m:
                return m.group(1)
        pytest.fail("live did not print its URL:\n" + "".join(self.err)[-2000:])

    def said(self, text: str, timeout=30) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.err):
            assert time.monotonic() < deadline and self.app.poll() is None, "".join(self.err)[-2000:]
            time.sleep(0.05)

    def stop(self) -> str:
        """End the set like Ctrl-C (the recording is finished); stderr."""
        if self.app.poll() is None:
            self.app.send_signal(signal.SIGTERM)
        try:
            self.app.wait(60)
        finally:
            if self.app.poll() is None:
                self.app.kill()
        self.reader.join(10)  # until the end of stderr
        assert self.app.returncode == 0, "".join(self.err)[-2000:]
        return "".join(self.err)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def running(page):
    """The page shows the state of a running set (the figures come with the first state)."""
    page.wait_for_function("document.querySelector('[data-conn]').textContent == 'connected' && "
                           "document.querySelector('[data-figure=render]') !== null", timeout=60000)


def value_is(page, name, value, timeout=10000):
    page.wait_for_function(f"document.querySelector('[data-param={name}]').value == '{value}'", timeout=timeout)


async def _junk_then_foreign(url: str) -> int:
    import aiohttp

    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(url) as ws:
            for junk in ("{", "null", '{"type": "nope"}', '{"type": "param", "name": "jitter", "value": "NaN"}'):
                await ws.send_str(junk)
            await ws.send_bytes(os.urandom(512))
            for _ in range(500):
                await ws.send_str('{"type": "search", "q": "a"}')
        try:
            async with s.ws_connect(url, origin="http://evil.example"):
                return 101
        except aiohttp.WSServerHandshakeError as e:
            return e.status


def test_two_pages_one_show(browser, mic, tiny_model_dir, tmp_path):
    from pythonosc.udp_client import SimpleUDPClient

    rec, osc_port = tmp_path / "rec", free_udp_port()
    # 127.0.0.2 stands in for a venue network's address: off 127.0.0.1 the page needs the token
    live = Live(mic, tiny_model_dir, "--web", "127.0.0.2:0", "--osc", str(osc_port), "--record", str(rec))
    try:
        url = live.url()
        assert url.startswith("http://127.0.0.2:") and "/?token=" in url
        a, b = browser.new_page(), browser.new_page()
        assert a.goto(url.split("?")[0]).status == 401
        assert a.goto(url.replace("?token=", "?token=x")).status == 403
        for page in (a, b):
            assert page.goto(url).status == 200  # the printed URL; the page's own requests carry the token
            running(page)
        params = a.locator("[data-param]")
        shown = {params.nth(i).get_attribute("data-param") for i in range(params.count())}
        assert shown == set(PARAM_SPECS) and a.locator("[data-preset=rave]").count() == 1, shown

        a.locator("[data-param=truncation]").fill("0.3")  # page A's slider...
        value_is(b, "truncation", "0.3")  # ...page B follows
        a.click("[data-action=freeze]")  # a button press arrives: both pages show it frozen
        b.wait_for_function("document.querySelector('[data-action=freeze]').classList.contains('on')")
        SimpleUDPClient("127.0.0.1", osc_port).send_message("/live/jitter", 0.2)  # a change made elsewhere
        for page in (a, b):
            value_is(page, "jitter", "0.2")
        b.click("[data-action=freeze]")  # B runs it again; A sees that
        a.wait_for_function("!document.querySelector('[data-action=freeze]').classList.contains('on')")

        b.fill("#search", "jellyfish")  # pick a class by name from the search
        b.click("[data-found='107']")
        a.wait_for_selector("[data-classes] [data-class='107']")

        a.wait_for_function("document.querySelector('[data-preview]').naturalWidth == 128")
        shots = [a.locator("[data-preview]").screenshot()]
        deadline = time.monotonic() + 20
        while shots[-1] == shots[0] and time.monotonic() < deadline:  # the picture moves with the music
            a.wait_for_timeout(200)
            shots.append(a.locator("[data-preview]").screenshot())
        assert shots[-1] != shots[0], "the preview did not change"

        ws_url = url.replace("http://", "ws://").replace("/?token=", "/ws?token=")
        with ThreadPoolExecutor(1) as pool:  # Playwright's loop runs on this thread
            assert pool.submit(asyncio.run, _junk_then_foreign(ws_url)).result() == 403
        a.locator("[data-param=truncation]").fill("0.5")  # the show goes on after the junk
        value_is(b, "truncation", "0.5")
        assert live.app.poll() is None
        assert a.locator("[data-param=mod1]").count() == 0  # the default preset has no modulation rows
        b.click("[data-preset=rave]")  # rave's rows get sliders on every page, the first: bass -> truncation
        a.wait_for_selector("[data-param=mod1]")
        a.locator("[data-param=mod1]").fill("-0.25")
        value_is(b, "mod1", "-0.25")
        live.said("web: dropped")  # reported while the show runs
    finally:
        err = live.stop()
    assert "web: dropped" in err and "malformed" in err and "flooding" in err, err[-2000:]
    assert len([ln for ln in err.splitlines() if "web: dropped" in ln]) <= 3, err  # one line, not one a message

    events = [json.loads(ln) for ln in (rec / "events.jsonl").read_text().splitlines()]
    params = [(e["value"]["truncation"], e["value"]["jitter"]) for e in events if e["kind"] == "params"]
    assert params[:3] == [(0.3, 0.5), (0.3, 0.2), (0.5, 0.2)], events  # web, OSC, web: the walker got each
    assert [e["value"] for e in events if e["kind"] == "mod_amount"] == [[1, -0.25]], events  # a row's slider
    assert [e["value"] for e in events if e["kind"] == "freeze"] == [True, False], events
    assert any(e["kind"] == "classes" and e["value"][-1] == 107 for e in events), events
    assert "█" in err  # the QR code for a phone
    got, lat = replay_steps(str(rec)), np.load(rec / "latents.npz")  # replayed like any other control
    for key in ("z", "c", "t"):
        assert got[key].shape == lat[key].shape and np.abs(got[key] - lat[key]).max() <= 1e-5, key
