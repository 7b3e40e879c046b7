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


def find_cjk_font() -> Path | None:
    """A font file with CJK glyphs: $EMOFACE_CJK_FONT, then the usual Debian paths."""
    env = os.environ.get("EMOFACE_CJK_FONT")
    if env and Path(env).is_file():
        return Path(env)
    for cand in CJK_FONT_CANDIDATES:
        if Path(cand).is_file():
            return Path(cand)
    return None


class Fonts:
    """Fonts by role ("title", "body", "button", "small") for one language and screen height."""

    RATIOS = {"huge": 0.16, "title": 0.085, "body": 0.05, "button": 0.055, "small": 0.036}

    def __init__(self, height: int, cjk_path: Path | None):
        self.height = height
        self.cjk_path = cjk_path
        self._fonts: dict[str, pygame.font.Font] = {}
        self._cache: dict[tuple, pygame.Surface] = {}

    def font(self, role: str) -> pygame.font.Font:
        f = self._fonts.get(role)
        if f is None:
            size = max(14, int(self.height * self.RATIOS[role]))
            f = pygame.font.Font(str(self.cjk_path) if self.cjk_path else None, size)
            self._fonts[role] = f
        return f

    def render(self, text: str, role: str = "body", colour=FG) -> pygame.Surface:
        key = (text, role, colour)
        surf = self._cache.get(key)
        if surf is None:
            if len(self._cache) > 512:
                self._cache.clear()
            surf = self.font(role).render(text, True, colour)
            self._cache[key] = surf
        return surf


def wrap(text: str, font: pygame.font.Font, width: int) -> list[str]:
    """Greedy wrap by words (by characters for CJK text, which has no spaces)."""
    lines: list[str] = []
    for para in text.split("\n"):
        if not para:
            lines.append("")
            continue
        cjk = any("\u3000" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef" for ch in para)
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
    font = fonts.font(role)
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
