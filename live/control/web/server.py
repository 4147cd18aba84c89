"""`live --web [HOST:]PORT`: the control page over HTTP and one WebSocket per page (aiohttp), on its own thread
with its own event loop, so nothing here runs on the main, analysis or render thread.

- The page's messages become actions in the VJ inbox (live.control.dispatch), like OSC and MIDI: one
  dispatcher, so web changes are recorded and replayed like any other.
- publish() (main thread: when the look changed, and every 0.5 s for the figures) hands over the state.
- offer() (main thread, every shown frame) only keeps a reference; the preview thread (live.control.web.preview)
  encodes the newest one as a scaled JPEG about 10 times a second while a page wants it. A page still busy
  receiving gets the newest state and frame once it is free: a slow phone drops frames, never holds anything up.
Safety: who may connect is live.control.web.guard's (a token off 127.0.0.1, no foreign Origin). Messages that
are malformed, oversized or over the flood limit are dropped and counted (one report every few seconds).
"""
from __future__ import annotations

import asyncio
import json
import socket
import sys
import threading
from importlib import resources

from core.errors import LiveError, warn
from live.control import actions as A
from live.control.osc import parse_address
from live.control.web import guard
from live.control.web import protocol as P
from live.control.web.preview import Preview

MAX_MESSAGE = 64 * 1024  # a pasted song's lyrics fit; more is dropped
MAX_PAGES = 16
STATIC = {"/": ("index.html", "text/html"), "/app.js": ("app.js", "text/javascript"),
          "/style.css": ("style.css", "text/css")}


class _Page:
    def __init__(self, ws):
        self.ws, self.wake, self.bucket = ws, asyncio.Event(), P.Bucket()
        self.state_seq = self.frame_seq = 0
        self.preview = True
        self.outbox: list[str] = []  # replies to this page only


class WebControl:
    """Binds at once (a taken port fails before the model loads); start() serves, close() ends."""

    def __init__(self, spec: str, inbox, extra_params: list[dict] | None = None):
        self.host, port = parse_address(spec, "--web", lowest=0)  # 0: any free port (printed)
        self.inbox = inbox
        self.token = guard.token_for(self.host)
        self.description = P.describe(extra_params)
        self._param_names = {p["name"] for p in self.description["params"]}
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind((self.host, port))
            self.sock.listen(64)
        except OSError as e:
            self.sock.close()
            raise LiveError(f"--web {spec}: cannot listen on {self.host}:{port} ({e.strerror}) — "
                            "choose another port") from None
        self.port = self.sock.getsockname()[1]
        self.drops = P.Drops()
        self.pages: set[_Page] = set()
        self._published = ""  # main thread: the last state handed over
        self._state_text, self._state_seq = "", 0  # the server's thread: the state pages get
        self._jpeg, self._frame_seq = b"", 0
        self._lyrics_busy = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, name="web", daemon=True)
        self._preview = Preview(lambda jpeg: self._loop.call_soon_threadsafe(self._new_frame, jpeg))

    # ---- main thread -------------------------------------------------------------------------------------
    def url(self) -> str:
        host = self.host
        if host in ("0.0.0.0", "::"):
            host = guard.lan_address()
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.port}/" + (f"?token={self.token}" if self.token else "")

    def start(self) -> "WebControl":
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise LiveError(f"--web: the server did not start ({self._error})")
        self._preview.start()
        url = self.url()
        print(f"live: web control at {url}", file=sys.stderr, flush=True)
        if self.token:  # a phone scans it; the token is in the URL
            import qrcode

            qr = qrcode.QRCode(border=1)
            qr.add_data(url)
            qr.print_ascii(out=sys.stderr, invert=True)
            print("live: anyone with this URL (and its token) controls the show; the page refuses everyone else",
                  file=sys.stderr, flush=True)
        return self

    def offer(self, frame) -> None:
        """The frame just shown (a reference only: the preview thread encodes the newest one when due)."""
        self._preview.frame = frame

    def publish(self, state: dict) -> None:
        """The look and the HUD's figures; pages get it when it changed."""
        text = json.dumps(dict(type="state", dropped=self.drops.total, pages=len(self.pages), **state))
        if text != self._published and self._loop is not None:
            self._published = text
            self._loop.call_soon_threadsafe(self._new_state, text)

    def hud(self) -> str:
        return f"WEB :{self.port} {len(self.pages)} page{'s' if len(self.pages) != 1 else ''}"

    def close(self) -> None:
        self._preview.close()  # first: it hands frames to the loop
        if self._loop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
        self.sock.close()
        text = self.drops.report(last=True)  # the ones since the last report
        if text:
            warn(text)

    # ---- the server's thread -------------------------------------------------------------------------------
    def _serve(self) -> None:
        from aiohttp import web

        @web.middleware
        async def guard(request, handler):
            return await self._guard(request, handler)

        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            app = web.Application(middlewares=[guard], client_max_size=MAX_MESSAGE)
            app.router.add_get("/ws", self._socket)
            app.router.add_get("/api/controls", self._controls)
            app.router.add_get("/favicon.ico", self._no_icon)
            for path in STATIC:
                app.router.add_get(path, self._static)
            runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(web.SockSite(runner, self.sock).start())
            tick = loop.create_task(self._tick())
        except BaseException as e:
            self._error = e
            self._ready.set()
            return
        self._loop = loop
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            tick.cancel()
            for page in list(self.pages):
                loop.run_until_complete(page.ws.close())
            loop.run_until_complete(runner.cleanup())
            loop.close()

    async def _tick(self) -> None:
        """Once a second: the dropped messages' report (when there are new ones and it is due)."""
        while True:
            await asyncio.sleep(1.0)
            text = self.drops.report()
            if text:
                self.inbox.put(A.Report(text))

    def _new_state(self, text: str) -> None:
        self._state_text, self._state_seq = text, self._state_seq + 1
        for page in self.pages:
            page.wake.set()

    def _new_frame(self, jpeg: bytes) -> None:
        self._jpeg, self._frame_seq = jpeg, self._frame_seq + 1
        for page in self.pages:
            page.wake.set()

    # ---- requests ----------------------------------------------------------------------------------------
    async def _guard(self, request, handler):
        from aiohttp import web

        refused = guard.refusal(request, self.token, self._cookie())
        if refused is not None:
            return web.Response(status=refused[0], text=refused[1] + "\n")
        return await handler(request)

    def _cookie(self) -> str:
        return f"live_token_{self.port}"

    async def _controls(self, request):
        from aiohttp import web

        return web.json_response(self.description)

    async def _no_icon(self, request):
        from aiohttp import web

        return web.Response(status=204)

    async def _static(self, request):
        from aiohttp import web

        name, kind = STATIC[request.path]
        body = resources.files("live.control.web").joinpath("static", name).read_bytes()
        resp = web.Response(body=body, content_type=kind, headers={"Cache-Control": "no-store"})
        if self.token is not None and request.path == "/":  # the page's own requests carry it from now on
            resp.set_cookie(self._cookie(), self.token, httponly=True, samesite="Strict")
        return resp

    async def _socket(self, request):
        from aiohttp import WSMsgType, web

        if guard.foreign_origin(request):
            self.drops.count("foreign origin")
            raise web.HTTPForbidden(text="live: a page from another site may not control this one\n")
        if len(self.pages) >= MAX_PAGES:
            raise web.HTTPServiceUnavailable(text=f"live: at most {MAX_PAGES} pages at once\n")
        ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE, heartbeat=10.0)
        await ws.prepare(request)
        page = _Page(ws)
        self.pages.add(page)
        self._preview.wanted = True
        page.wake.set()
        pump = asyncio.ensure_future(self._pump(page))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._receive(page, msg.data)
                elif msg.type == WSMsgType.ERROR:  # e.g. over MAX_MESSAGE: aiohttp closes this socket
                    self.drops.count("oversized" if "size" in str(ws.exception()).lower() else "broken")
                else:
                    self.drops.count("binary")
        finally:
            self.pages.discard(page)
            self._preview.wanted = any(p.preview for p in self.pages)
            pump.cancel()
        return ws

    def _receive(self, page: _Page, text: str) -> None:
        if not page.bucket.take():
            self.drops.count("flooding")
            return
        try:
            kind, payload = P.parse(text, self._param_names)
        except P.Malformed:
            self.drops.count("malformed")
            return
        if kind == "action":
            self.inbox.put(payload)
        elif kind == "search":
            self._reply(page, dict(type="found", q=payload, classes=P.search(payload)))
        elif kind == "preview":
            page.preview = payload
            self._preview.wanted = any(p.preview for p in self.pages)
        elif self._lyrics_busy:
            self._reply(page, dict(type="note", text="still choosing classes for the last lyrics"))
        else:
            self._lyrics_busy = True
            asyncio.get_running_loop().run_in_executor(None, self._choose_lyrics, payload)

    def _choose_lyrics(self, text: str) -> None:
        """Worker thread: the text model takes seconds; the classes arrive as an action like any other."""
        try:
            n = json.loads(self._published)["params"]["num_classes"] if self._published else P.MAX_CLASSES
            ids = P.lyrics_classes(text, n)
            self.inbox.put(A.ChooseClasses(",".join(map(str, ids)), "web lyrics"))
        except LiveError as e:
            self.inbox.put(A.Report(f"web lyrics: {e}"))
        finally:
            self._lyrics_busy = False

    def _reply(self, page: _Page, msg: dict) -> None:
        page.outbox.append(json.dumps(msg))
        page.wake.set()

    async def _pump(self, page: _Page) -> None:
        """Sends this page the newest state and frame whenever it is free: a slow page skips, never queues."""
        ws = page.ws
        try:
            while not ws.closed:
                await page.wake.wait()
                page.wake.clear()
                while page.outbox:
                    await ws.send_str(page.outbox.pop(0))
                if page.state_seq != self._state_seq and self._state_text:
                    page.state_seq = self._state_seq
                    await ws.send_str(self._state_text)
                if page.preview and page.frame_seq != self._frame_seq:
                    page.frame_seq = self._frame_seq
                    await ws.send_bytes(self._jpeg)
        except (ConnectionError, RuntimeError):
            pass  # the page went away; its handler cleans up
