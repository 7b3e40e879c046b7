"""Drawing helpers for the kiosk screens: fonts (with a CJK fallback), wrapped text, buttons.

Sizes scale with the screen height so the text stays readable from about 1 m on a 7" Pi
touch screen and on a larger monitor alike. Rendered text is cached: the player redraws
the whole screen every frame and must not spend its frame budget on font rendering.

What a patient at arm's length needs, as numbers the tests measure on rendered screens:
* every touch target at least MIN_TARGET_PX (48 px: about 9 mm on a 7" 800x480 panel),
  whatever the length of the text around it;
* every text at least 4.5:1 contrast against what it is drawn on (WCAG 2 AA). Colours
  come in two kinds: fills (buttons, with FG text on them) and text colours on BG; a fill
  colour passed as a text colour is drawn in its light variant (ON_BG);
* every glyph at least MIN_TEXT_ARCMIN tall (capital letter, or a CJK character) seen
  from VIEW_DISTANCE_MM on the 7" panel.
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
MUTED = (170, 178, 190)  # secondary text on BG (8.3:1)
# Button fills: FG text on each is at least 5:1.
ACCENT = (28, 100, 180)
ACCENT_DOWN = (20, 75, 140)
DANGER = (170, 40, 40)
GOOD = (30, 115, 60)
WARN = (150, 100, 20)
DISABLED = (76, 84, 100)  # secondary buttons (Back, Decline, Skip): FG text on it
INACTIVE = (40, 46, 58)  # a button that cannot be pressed yet: MUTED text on it (6.4:1)
# The same meanings as text on BG (at least 7:1).
ON_BG = {
    ACCENT: (130, 180, 240),
    GOOD: (110, 220, 140),
    WARN: (255, 190, 70),
    DANGER: (255, 130, 130),
    DISABLED: MUTED,
}

MIN_TARGET_PX = 48  # at 800x480 on a 7" panel: 9.2 mm
PANEL_MM_PER_PX = 177.8 / (800**2 + 480**2) ** 0.5  # 7" diagonal over 800x480 pixels
VIEW_DISTANCE_MM = 1000.0
MIN_TEXT_ARCMIN = 12.0  # glyph height at 1 m; about 3.5 mm, 18 px on the 7" panel


def luminance(rgb) -> float:
    """WCAG 2 relative luminance of an sRGB colour."""

    def channel(v: int) -> float:
        c = v / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a, b) -> float:
    """WCAG 2 contrast ratio of two colours (1 to 21)."""
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def glyph_height_px(font: pygame.font.Font, text: str) -> int:
    """Height of a capital letter (or of a CJK character, for CJK text) in this font."""
    probe = "国" if has_cjk(text) else "H"  # a full-height character of each script
    m = font.metrics(probe)[0]
    return (m[3] - m[2]) if m else font.get_ascent()


def arcmin_at_distance(px: float, mm_per_px: float = PANEL_MM_PER_PX) -> float:
    import math

    return math.degrees(math.atan(px * mm_per_px / VIEW_DISTANCE_MM)) * 60


# Tests set this to a list to record every text drawn:
# (text, colour, background, glyph height px, font height px, baseline y, line rect).
TEXT_LOG: list | None = None


def _log_text(surf: pygame.Surface, pos, img: pygame.Surface, text: str, colour, font) -> None:
    if TEXT_LOG is None:
        return
    x, y = pos
    bx = min(max(0, x), surf.get_width() - 1)
    by = min(max(0, y + img.get_height() // 2), surf.get_height() - 1)
    bg = tuple(surf.get_at((bx, by)))[:3]
    line = pygame.Rect(x, y, img.get_width(), img.get_height())
    glyph = glyph_height_px(font, text)
    TEXT_LOG.append((text, colour, bg, glyph, font.get_height(), y + font.get_ascent(), line))


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

    # the smallest, "small", is the minimum size readable at 1 m on the 7" panel
    RATIOS = {"huge": 0.15, "title": 0.09, "body": 0.062, "button": 0.064, "small": 0.055}

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
            size = max(26, int(self.height * self.RATIOS[role]))
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
    colour = ON_BG.get(colour, colour)
    font = fonts.font(role, text)
    y = rect.top
    for line in wrap(text, font, rect.width):
        img = fonts.render(line, role, colour)
        x = rect.centerx - img.get_width() // 2 if align == "center" else rect.left
        _log_text(surf, (x, y), img, line, colour, font)
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
        colour = self.colour if self.enabled else INACTIVE
        text = FG if self.enabled else MUTED
        pygame.draw.rect(surf, colour, self.rect, border_radius=max(6, self.rect.height // 6))
        role = "button"
        img = fonts.render(self.label, role, text)
        if img.get_width() > self.rect.width - 12:
            role = "small"
            img = fonts.render(self.label, role, text)
        at = img.get_rect(center=self.rect.center)
        _log_text(surf, at.topleft, img, self.label, text, fonts.font(role, self.label))
        surf.blit(img, at)


def event_pos(event, size: tuple[int, int]) -> tuple[int, int] | None:
    """The screen position of a click or touch release, or None for other events."""
    if event.type == pygame.MOUSEBUTTONUP and getattr(event, "button", 1) == 1:
        # SDL also emits a mouse event for each touch: count the FINGERUP only
        return None if getattr(event, "touch", False) else event.pos
    if event.type == pygame.FINGERUP:
        return int(event.x * size[0]), int(event.y * size[1])
    return None
