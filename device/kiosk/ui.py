"""Drawing helpers for the kiosk screens: fonts (with a CJK fallback), wrapped text, buttons.

Sizes scale with the screen height so the text stays readable from about 1 m on a 7" Pi
touch screen and on a larger monitor alike. Rendered text is cached: the player redraws
the whole screen every frame and must not spend its frame budget on font rendering.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import pygame

log = logging.getLogger(__name__)

# Debian/Raspberry Pi OS/Jetson (Ubuntu) locations of fonts with Simplified Chinese glyphs.
CJK_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
)

BG = (18, 24, 38)
FG = (240, 240, 240)
MUTED = (170, 178, 190)
ACCENT = (46, 125, 210)
ACCENT_DOWN = (30, 90, 160)
DANGER = (190, 60, 60)
GOOD = (60, 170, 90)
WARN = (220, 160, 40)
DISABLED = (70, 76, 88)


LATIN_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
)


def find_latin_font() -> Path | None:
    """A clear sans-serif for Latin text (None: pygame's built-in font)."""
    for cand in LATIN_FONT_CANDIDATES:
        if Path(cand).is_file():
            return Path(cand)
    return None


def find_cjk_font() -> Path | None:
    """A font file with CJK glyphs: $EMOFACE_CJK_FONT, then the usual Debian paths."""
    env = os.environ.get("EMOFACE_CJK_FONT")
    if env and Path(env).is_file():
        return Path(env)
    for cand in CJK_FONT_CANDIDATES:
        if Path(cand).is_file():
            return Path(cand)
    return None


def has_cjk(text: str) -> bool:
    return any("\u3000" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef" for ch in text)


class Fonts:
    """Fonts by role ("title", "body", "button", "small") for one language and screen height.

    `primary` is the language's font (None: pygame's default, Latin only); `cjk` is used
    for any text with CJK characters (e.g. the language button on an English screen)."""

    RATIOS = {"huge": 0.15, "title": 0.09, "body": 0.056, "button": 0.06, "small": 0.042}

    def __init__(self, height: int, primary: Path | None, cjk: Path | None = None):
        self.height = height
        self.primary = primary
        self.cjk = cjk
        self._fonts: dict[tuple[str, bool], pygame.font.Font] = {}
        self._cache: dict[tuple, pygame.Surface] = {}

    def font(self, role: str, text: str = "") -> pygame.font.Font:
        use_cjk = self.primary != self.cjk and self.cjk is not None and has_cjk(text)
        f = self._fonts.get((role, use_cjk))
        if f is None:
            size = max(14, int(self.height * self.RATIOS[role]))
            path = self.cjk if use_cjk else self.primary
            f = pygame.font.Font(str(path) if path else None, size)
            self._fonts[(role, use_cjk)] = f
        return f

    def render(self, text: str, role: str = "body", colour=FG) -> pygame.Surface:
        key = (text, role, colour)
        surf = self._cache.get(key)
        if surf is None:
            if len(self._cache) > 512:
                self._cache.clear()
            surf = self.font(role, text).render(text, True, colour)
            self._cache[key] = surf
        return surf


def wrap(text: str, font: pygame.font.Font, width: int) -> list[str]:
    """Greedy wrap by words (by characters for CJK text, which has no spaces)."""
    lines: list[str] = []
    for para in text.split("\n"):
        if not para:
            lines.append("")
            continue
        cjk = has_cjk(para)
        tokens = list(para) if cjk else para.split(" ")
        sep = "" if cjk else " "
        line = ""
        for tok in tokens:
            cand = f"{line}{sep}{tok}" if line else tok
            if font.size(cand)[0] <= width or not line:
                line = cand
            else:
                lines.append(line)
                line = tok.lstrip() if cjk else tok
        lines.append(line)
    return lines


def draw_text(
    surf: pygame.Surface,
    fonts: Fonts,
    text: str,
    rect: pygame.Rect,
    role: str = "body",
    colour=FG,
    align: str = "left",
) -> int:
    """Draw wrapped text inside `rect` from its top; returns the y below the last line."""
    font = fonts.font(role, text)
    y = rect.top
    for line in wrap(text, font, rect.width):
        img = fonts.render(line, role, colour)
        x = rect.centerx - img.get_width() // 2 if align == "center" else rect.left
        surf.blit(img, (x, y))
        y += int(font.get_linesize() * 1.1)
    return y


@dataclass
class Button:
    """A touch/keyboard button. `action` is what the screen gets back when it is pressed."""

    rect: pygame.Rect
    label: str
    action: str
    key: int | None = None
    colour: tuple = ACCENT
    enabled: bool = True

    def hit(self, pos) -> bool:
        return self.enabled and self.rect.collidepoint(pos)

    def draw(self, surf: pygame.Surface, fonts: Fonts) -> None:
        colour = self.colour if self.enabled else DISABLED
        pygame.draw.rect(surf, colour, self.rect, border_radius=max(6, self.rect.height // 6))
        img = fonts.render(self.label, "button", FG if self.enabled else MUTED)
        if img.get_width() > self.rect.width - 12:
            img = fonts.render(self.label, "small", FG if self.enabled else MUTED)
        surf.blit(img, img.get_rect(center=self.rect.center))


def event_pos(event, size: tuple[int, int]) -> tuple[int, int] | None:
    """The screen position of a click or touch release, or None for other events."""
    if event.type == pygame.MOUSEBUTTONUP and getattr(event, "button", 1) == 1:
        # SDL also emits a mouse event for each touch: count the FINGERUP only
        return None if getattr(event, "touch", False) else event.pos
    if event.type == pygame.FINGERUP:
        return int(event.x * size[0]), int(event.y * size[1])
    return None
