"""The live window: frames upscaled to the window, a HUD and the key overlay (keys mean what live.control.keys says).

Frames go onto a "logical" canvas (the frame scaled by an integer factor to >= 512 px, so HUD text is
legible); with pygame.SCALED, SDL's renderer stretches that canvas to the window on the GPU (letterboxed,
vsync, nearest or linear filtering). Where SCALED cannot get a renderer the canvas is scaled on the CPU.
This module knows nothing about audio or the walker: it returns actions, the runtime applies them.
"""
from __future__ import annotations

import math
import os
import re
import time
import warnings

import numpy as np

from core.errors import LiveError
from live.control import actions as A
from live.control.keys import KEY_HELP, key_action

class Display:
    """A pygame window; call from the main thread only (SDL wants it)."""

    def __init__(self, title: str, frame_size: tuple[int, int], fullscreen: bool = False, display: int = 0,
                 scale_filter: str = "smooth", min_logical: int = 512):
        if scale_filter not in ("nearest", "smooth"):
            raise LiveError(f"--scale-filter {scale_filter!r}: choose nearest or smooth")
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
        # SDL reads hints from the environment when the renderer is created.
        os.environ["SDL_RENDER_SCALE_QUALITY"] = "linear" if scale_filter == "smooth" else "nearest"
        import pygame
        self.pg = pygame
        try:
            pygame.display.init()
            pygame.font.init()
        except pygame.error as e:
            raise LiveError(f"cannot open a window ({e}): run inside a desktop session, "
                            "or set SDL_VIDEODRIVER=dummy for a headless run") from None
        n = pygame.display.get_num_displays()
        if not 0 <= display < n:
            raise LiveError(f"--display {display}: this machine has {n} display(s), use 0..{n - 1}")
        fw, fh = frame_size
        k = max(1, math.ceil(min_logical / max(fw, fh)))
        self.logical = (fw * k, fh * k)
        self.frame_size = (fw, fh)
        self.smooth = scale_filter == "smooth"
        self.display_index = display
        self.scaled, self.vsync = self._open(fullscreen, display)
        pygame.display.set_caption(title)
        self.canvas = pygame.display.get_surface() if self.scaled else pygame.Surface(self.logical)
        self.font = pygame.font.Font(None, max(16, self.logical[1] // 28))
        self.small_font = pygame.font.Font(None, max(12, self.logical[1] // 40))  # the source meters
        self.show_hud = False
        self.show_help = False
        self.show_meters = False
        self._toast = ("", 0.0)
        self._last_frame = None

    def _open(self, fullscreen: bool, display: int) -> tuple[bool, bool]:
        pg = self.pg
        flags = pg.SCALED | pg.RESIZABLE | (pg.FULLSCREEN if fullscreen else 0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "no fast renderer available" on software-only drivers
            for vsync in (1, 0):
                try:
                    pg.display.set_mode(self.logical, flags, display=display, vsync=vsync)
                    return True, bool(vsync)
                except pg.error:
                    continue
        # No renderer for SCALED: plain window, scaled on the CPU.
        size = (0, 0) if fullscreen else self.logical
        pg.display.set_mode(size, pg.RESIZABLE | (pg.FULLSCREEN if fullscreen else 0), display=display)
        return False, False

    def set_title(self, title: str):
        self.pg.display.set_caption(title)

    def toggle_fullscreen(self):
        pg = self.pg
        try:
            pg.display.toggle_fullscreen()
        except pg.error:
            pass  # some drivers (dummy, some Wayland setups) cannot toggle: keep the window as it is

    def toast(self, text: str, seconds: float = 1.5):
        """A short message at the bottom, shown even with the HUD off (parameter changes, presets)."""
        self._toast = (text, time.monotonic() + seconds)

    # ---- drawing --------------------------------------------------------------------------------------
    def show(self, frame: np.ndarray | None, hud: list[str] | None = None, level: float = 0.0,
             help_extra: str = "", meters=None) -> float:
        """Draw `frame` (uint8 HxWx3; None repeats the last one) + overlays, flip; return the flip time.
        `meters`: (names, values 0..1) of the modulation sources, drawn while the meter view is on."""
        pg = self.pg
        if frame is not None:
            h, w = frame.shape[:2]
            src = pg.image.frombuffer(np.ascontiguousarray(frame), (w, h), "RGB")
            self._last_frame = src.convert(self.canvas)  # the scalers want source and canvas in one format
        c = self.canvas
        if self._last_frame is None:
            c.fill((0, 0, 0))
        elif self.smooth:
            pg.transform.smoothscale(self._last_frame, self.logical, c)
        else:
            pg.transform.scale(self._last_frame, self.logical, c)
        if self.show_hud and hud:
            self._draw_hud(hud, level)
        if self.show_meters and meters is not None:
            self._draw_meters(*meters)
        if self.show_help:
            self._draw_box((KEY_HELP + ("\n" + help_extra if help_extra else "")).splitlines(), center=True)
        text, until = self._toast
        if text and time.monotonic() < until:
            self._draw_box([text], bottom=True)
        if not self.scaled:
            self._present_cpu()
        pg.display.flip()
        return time.monotonic()

    def _present_cpu(self):
        pg = self.pg
        screen = pg.display.get_surface()
        sw, sh = screen.get_size()
        lw, lh = self.logical
        k = min(sw / lw, sh / lh)
        size = (max(1, int(lw * k)), max(1, int(lh * k)))
        screen.fill((0, 0, 0))
        scaled = (pg.transform.smoothscale if self.smooth else pg.transform.scale)(self.canvas, size)
        screen.blit(scaled, ((sw - size[0]) // 2, (sh - size[1]) // 2))

    def _draw_box(self, lines: list[str], center=False, bottom=False, meter: float | None = None):
        pg = self.pg
        # "key  description" lines get two columns, so they line up in a proportional font
        rows = [re.split(r"(?<=\S)\s{2,}", line.strip(), maxsplit=1) if line.startswith("  ") else [line]
                for line in lines]
        render = lambda t: self.font.render(t, True, (235, 235, 235))
        surfs = [[render(t) for t in row] for row in rows]
        col = max((r[0].get_width() for r in surfs if len(r) == 2), default=0) + 12
        lh = self.font.get_linesize()
        bw = max(r[-1].get_width() + (col if len(r) == 2 else 0) for r in surfs) + 16
        bh = lh * len(surfs) + 12 + (lh if meter is not None else 0)
        W, H = self.logical
        x = (W - bw) // 2 if center or bottom else 6
        y = (H - bh) // 2 if center else (H - bh - 8 if bottom else 6)
        box = pg.Surface((bw, bh), pg.SRCALPHA)
        box.fill((0, 0, 0, 170))
        self.canvas.blit(box, (x, y))
        for i, row in enumerate(surfs):
            ty = y + 6 + i * lh
            indent = 8 + (self.font.size("  ")[0] if lines[i].startswith("  ") else 0)
            if len(row) == 2:
                self.canvas.blit(row[1], (x + indent + col, ty))
            continuation = len(row) == 1 and lines[i].startswith("   ")  # description wrapped onto a new line
            self.canvas.blit(row[0], (x + indent + (col if continuation else 0), ty))
        if meter is not None:  # input level bar under the text
            my, mw = y + 6 + len(surfs) * lh + 2, bw - 16
            pg.draw.rect(self.canvas, (80, 80, 80), (x + 8, my, mw, lh // 2), 1)
            fill = int(mw * min(1.0, max(0.0, meter)))
            colour = (60, 200, 90) if meter < 0.8 else (230, 70, 50)
            pg.draw.rect(self.canvas, colour, (x + 8, my, fill, lh // 2))

    def _draw_hud(self, lines: list[str], level: float):
        self._draw_box(lines, meter=level)

    def _draw_meters(self, names, values):
        """One thin bar per source, in columns at the right edge."""
        pg = self.pg
        small = self.small_font
        lh = small.get_linesize()
        W, H = self.logical
        per_col = max(1, (H - 12) // lh)
        cols = -(-len(names) // per_col)
        cw = 150
        x0 = W - cols * cw - 6
        box = pg.Surface((cols * cw, min(len(names), per_col) * lh + 8), pg.SRCALPHA)
        box.fill((0, 0, 0, 150))
        self.canvas.blit(box, (x0, 6))
        for i, (name, v) in enumerate(zip(names, values)):
            x, y = x0 + (i // per_col) * cw + 4, 10 + (i % per_col) * lh
            self.canvas.blit(small.render(name, True, (220, 220, 220)), (x, y))
            pg.draw.rect(self.canvas, (60, 200, 90), (x + 72, y + lh // 4, int(70 * min(1.0, max(0.0, v))), lh // 2))

    # ---- input ----------------------------------------------------------------------------------------
    def poll(self) -> list[A.Action]:
        """Pending window events as actions (closing the window is Quit)."""
        pg = self.pg
        actions: list[A.Action] = []
        for ev in pg.event.get():
            if ev.type == pg.QUIT:
                actions.append(A.Quit())
            elif ev.type == pg.KEYDOWN:
                name = "?" if ev.unicode == "?" else pg.key.name(ev.key)
                action = key_action(name, bool(ev.mod & pg.KMOD_SHIFT))
                if action is not None:
                    actions.append(action)
        return actions

    def toggle_hud(self):
        self.show_hud = not self.show_hud

    def toggle_help(self):
        self.show_help = not self.show_help

    def toggle_meters(self):
        self.show_meters = not self.show_meters

    def close(self):
        self.pg.display.quit()
