"""Screens fit for an anxious patient at arm's length, measured on the real rendered
widgets of every screen state (the screenshot set, SDL dummy driver, 800x480, both
languages): touch targets at least 48 px that never shrink with the text, text contrast at
least 4.5:1 against what it is drawn on, glyphs readable at 1 m, camera guidance with a
direction, and operator lines with correct plurals."""

from __future__ import annotations

import pytest

from device.kiosk import ui
from device.kiosk.guidance import FacePlace, advice
from device.kiosk.i18n import tn
from device.kiosk.screenshots import SCREENS, render_all


@pytest.fixture(scope="module", params=["en", "zh"])
def rendered(request, tmp_path_factory, short_pack):
    """Every screen state: (name, [button rects and enabled], [text log], surface copy)."""
    shots = {}

    def on_shot(name, screen, surface):
        shots[name] = {
            "buttons": [(b.action, b.rect.copy(), b.enabled) for b in screen.buttons],
            "texts": list(ui.TEXT_LOG),
            "surface": surface.copy(),
            "screen": screen,
            "advice": screen.advice() if hasattr(screen, "advice") else None,
        }
        ui.TEXT_LOG.clear()

    ui.TEXT_LOG = []
    try:
        render_all(
            tmp_path_factory.mktemp(request.param), request.param, (800, 480), short_pack, on_shot
        )
    finally:
        ui.TEXT_LOG = None
    assert set(shots) == set(SCREENS)
    return request.param, shots


def test_every_touch_target_is_at_least_48_px(rendered):
    lang, shots = rendered
    small = [
        f"{name}: {action} {rect.width}x{rect.height}"
        for name, shot in shots.items()
        for action, rect, _ in shot["buttons"]
        if min(rect.width, rect.height) < ui.MIN_TARGET_PX
    ]
    assert not small, small


def test_answer_buttons_do_not_shrink_with_the_question(rendered):
    lang, shots = rendered
    layouts = {
        name: [(a, tuple(r)) for a, r, _ in shots[name]["buttons"] if a.startswith("answer:")]
        for name in (
            "questionnaire_phq9_item1",
            "questionnaire_phq9_item8",
            "questionnaire_phq9_item9",
        )
    }
    first = layouts["questionnaire_phq9_item1"]
    assert len(first) == 4
    assert all(v == first for v in layouts.values()), layouts
    # and even the longest item's text ends above the answers instead of running under them
    top = min(r[1] for _, r in first)
    for name in layouts:
        on_screen = [t for t in shots[name]["texts"] if t[2] == ui.BG]  # not button labels
        baselines = [t[5] for t in on_screen]
        assert baselines and max(baselines) < top, (name, max(baselines), top)


def test_no_text_runs_into_a_button(rendered):
    lang, shots = rendered
    clashes = []
    for name, shot in shots.items():
        rects = [r for _, r, _ in shot["buttons"]]
        for text, *_, line in shot["texts"]:
            inside = [r for r in rects if r.contains(line)]  # a button's own label
            if not inside and line.width and any(line.colliderect(r) for r in rects):
                clashes.append(f"{name}: {text!r} at {tuple(line)}")
    assert not clashes, clashes


def test_text_contrast_is_at_least_4_5_to_1(rendered):
    lang, shots = rendered
    low = []
    for name, shot in shots.items():
        for text, colour, background, *_ in shot["texts"]:
            ratio = ui.contrast(colour, background)
            if ratio < 4.5:
                low.append(f"{name}: {text!r} {colour} on {background}: {ratio:.2f}")
    assert not low, low


def test_every_text_is_readable_at_one_metre(rendered):
    lang, shots = rendered
    tiny = []
    for name, shot in shots.items():
        for text, _, _, px, *_ in shot["texts"]:
            arcmin = ui.arcmin_at_distance(px)
            if arcmin < ui.MIN_TEXT_ARCMIN:
                tiny.append(f"{name}: {text!r} {px} px = {arcmin:.1f} arcmin")
    assert not tiny, tiny


def test_the_camera_check_points_the_way_with_a_drawn_arrow(rendered):
    lang, shots = rendered
    shot = shots["camera_check_move_left"]
    assert shot["advice"] == "camera.move_left"
    surf = shot["surface"]
    arrow = ui.ON_BG[ui.WARN]

    def count(x0, x1):
        return sum(
            1
            for x in range(x0, x1, 2)
            for y in range(90, 300, 2)
            if tuple(surf.get_at((x, y)))[:3] == arrow
        )

    # the arrow is at the left of the silhouette; nothing of its colour on the right
    assert count(150, 330) > 50 and count(470, 650) == 0
    assert shots["camera_check_closer"]["advice"] == "camera.move_closer"
    assert shots["camera_check_dark"]["advice"] == "camera.too_dark"
    assert shots["camera_check_ready"]["advice"] is None


@pytest.mark.parametrize(
    ("reason", "place", "key"),
    [
        (None, FacePlace(0.2, 0.5, 0.3), "camera.move_left"),  # image left = patient's right
        (None, FacePlace(0.8, 0.5, 0.3), "camera.move_right"),
        ("face_too_small", FacePlace(0.5, 0.5, 0.1), "camera.move_closer"),
        (None, FacePlace(0.5, 0.5, 0.7), "camera.move_back"),
        ("too_dark", FacePlace(0.5, 0.5, 0.3), "camera.too_dark"),
        ("too_bright", FacePlace(0.5, 0.5, 0.3), "camera.too_bright"),
        ("head_turned", FacePlace(0.5, 0.5, 0.3), "camera.head_turned"),
        ("no_face", None, "camera.no_face"),
        ("several_faces", FacePlace(0.5, 0.5, 0.3), "camera.several_faces"),
        (None, FacePlace(0.5, 0.5, 0.3), None),
    ],
)
def test_guidance_names_a_direction(reason, place, key):
    assert advice(reason, place) == key


def test_operator_counts_use_the_right_plural():
    assert tn("op.outbox", 1, "en") == "Outbox: 1 summary waiting"
    assert tn("op.outbox", 0, "en") == "Outbox: 0 summaries waiting"
    assert tn("op.outbox", 2, "en") == "Outbox: 2 summaries waiting"
    assert "1 份" in tn("op.outbox", 1, "zh") and "5 份" in tn("op.outbox", 5, "zh")


def test_the_operator_menu_draws_its_lines_in_one_size(rendered):
    lang, shots = rendered
    sizes = {t[4] for t in shots["operator"]["texts"]}
    # the title, one size for every status line, one for the buttons
    assert len(sizes) <= 3, sizes
