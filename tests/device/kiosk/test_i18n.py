"""The message catalogue: both languages for every key, same placeholders, CJK rendering."""

from __future__ import annotations

import string

import pygame
import pytest

from device.kiosk.i18n import LANGUAGES, MESSAGES, normalise_language, t


def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


def test_every_message_has_every_language_and_the_same_placeholders():
    for key, entry in MESSAGES.items():
        assert set(entry) == set(LANGUAGES), key
        assert all(entry[lang].strip() for lang in LANGUAGES), key
        assert _fields(entry["en"]) == _fields(entry["zh-Hans"]), key


def test_lookup_formats_and_maps_config_codes():
    assert normalise_language("zh") == "zh-Hans"
    assert "7" in t("welcome.body", "en", minutes=7)
    assert "7" in t("welcome.body", "zh", minutes=7)
    with pytest.raises(KeyError):
        normalise_language("fr")


def test_no_message_names_a_diagnosis():
    """The patient never sees a result: no class name appears in any screen text."""
    banned = (
        "bipolar",
        "depressive disorder",
        "major depress",
        "healthy control",
        "双相",
        "抑郁症",
    )
    for entry in MESSAGES.values():
        for text in entry.values():
            assert not any(b in text.lower() for b in banned), text


def test_chinese_renders_with_the_cjk_font():
    from device.kiosk.ui import Fonts, find_cjk_font

    path = find_cjk_font()
    assert path is not None, "install fonts-wqy-zenhei (apt) for the Chinese screens"
    pygame.font.init()
    fonts = Fonts(480, path, path)
    text = t("thanks.title", "zh")
    cjk = fonts.render(text, "title")
    default = pygame.font.Font(None, 40).render(text, True, (255, 255, 255))
    # pygame's built-in font has no CJK glyphs (tofu boxes of one width); the CJK font
    # draws real glyphs with ink in them.
    assert cjk.get_width() > 0 and pygame.mask.from_surface(cjk).count() > 50
    assert pygame.mask.from_surface(cjk).count() != pygame.mask.from_surface(default).count()


def test_missing_cjk_font_falls_back_to_english(monkeypatch, short_pack):
    from device.kiosk import app as app_mod
    from device.kiosk.app import KioskApp, KioskSettings
    from device.kiosk.capture import CaptureSession

    monkeypatch.setattr(app_mod, "find_cjk_font", lambda: None)
    app = KioskApp(
        KioskSettings(language="zh"),
        short_pack,
        CaptureSession(lambda: None, None),
        object(),
        surface=pygame.Surface((800, 480)),
    )
    try:
        assert app.language == "en"
        app.screen.draw(app.surface)  # draws without a CJK font
    finally:
        app.close()
