"""Every screen renders (dummy SDL driver) to a PNG, in English and Chinese."""

from __future__ import annotations

import pygame
import pytest

from device.kiosk.screenshots import SCREENS, render_all


@pytest.mark.parametrize("language", ["en", "zh"])
def test_every_screen_renders_to_png(tmp_path, short_pack, language):
    paths = render_all(tmp_path, language, (800, 480), pack=short_pack)
    assert set(paths) == set(SCREENS)
    prefix = "en" if language == "en" else "zh-Hans"
    for name, path in paths.items():
        assert path.name == f"{prefix}-{name}.png"
        img = pygame.image.load(str(path))
        assert img.get_size() == (800, 480)
        # something was drawn: more than a couple of colours on the screen
        colours = {tuple(img.get_at((x, y))) for x in range(0, 800, 7) for y in range(0, 480, 7)}
        assert len(colours) > 3, name


def test_docs_screenshots_exist():
    from tests.support.paths import REPO

    docs = REPO / "docs" / "screenshots"
    for name in SCREENS:
        assert (docs / f"en-{name}.png").is_file(), (
            f"run: python -m device.kiosk.screenshots docs/screenshots ({name})"
        )
