"""The control page's preview: the newest shown frame as a scaled JPEG, about 10 times a second, encoded on a
thread of its own (never the main or render thread) and only while some page wants it."""
from __future__ import annotations

import io
import threading
from typing import Callable

PREVIEW_HZ, PREVIEW_PX, PREVIEW_QUALITY = 10.0, 256, 70


class Preview:
    def __init__(self, deliver: Callable[[bytes], None]):
        """`deliver(jpeg)` is called on the preview thread with each new encoding."""
        self._deliver = deliver
        self.frame = None  # the newest shown frame (main thread -> preview thread); a reference only
        self.wanted = False  # some page shows the preview (set on the server's thread)
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="web-preview", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._closing.set()
        if self._thread.is_alive():
            self._thread.join(2)

    def _loop(self) -> None:
        from PIL import Image

        shown = None
        while not self._closing.wait(1 / PREVIEW_HZ):
            frame = self.frame
            if frame is None or frame is shown or not self.wanted:
                continue
            shown = frame
            img = Image.fromarray(frame)
            if max(img.size) > PREVIEW_PX:
                img.thumbnail((PREVIEW_PX, PREVIEW_PX))
            buf = io.BytesIO()
            img.save(buf, "JPEG", quality=PREVIEW_QUALITY)
            self._deliver(buf.getvalue())
