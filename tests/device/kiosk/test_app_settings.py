"""KioskSettings takes the defaults of the device config keys it shares from device.config
(the sections' defaults are the only defaults), and from_device_config carries them over."""

from __future__ import annotations

import dataclasses

from device.config import DeviceSection, KioskSection, config_from_dict
from device.kiosk.app import KioskSettings

# KioskSettings field -> (section, key) of the device config it comes from
SHARED = {
    "device_id": (DeviceSection, "id"),
    "language": (DeviceSection, "language"),
    "questionnaires": (KioskSection, "questionnaires"),
    "operator_pin": (KioskSection, "operator_pin"),
    "idle_timeout_s": (KioskSection, "idle_timeout_s"),
    "urgent_phq9_item9_min": (KioskSection, "urgent_phq9_item9_min"),
    "urgent_action": (KioskSection, "urgent_action"),
}


def test_shared_fields_default_to_the_config_sections():
    settings = KioskSettings()
    for field, (section, key) in SHARED.items():
        assert getattr(settings, field) == getattr(section(), key), field


def test_every_field_named_like_a_kiosk_key_is_shared():
    kiosk_keys = {f.name for f in dataclasses.fields(KioskSection)}
    setting_fields = {f.name for f in dataclasses.fields(KioskSettings)}
    # fullscreen is the one deliberate difference: the app runs windowed unless the
    # device config (kiosk.fullscreen, default on) says otherwise
    assert (kiosk_keys & setting_fields) - {"fullscreen"} <= set(SHARED)


def test_from_device_config_with_every_default():
    settings = KioskSettings.from_device_config(config_from_dict({}))
    assert settings == dataclasses.replace(KioskSettings(), fullscreen=KioskSection().fullscreen)


def test_from_device_config_carries_the_keys_and_overrides():
    cfg = config_from_dict(
        {
            "device": {"id": "site-7", "language": "zh"},
            "kiosk": {
                "operator_pin": "2468",
                "idle_timeout_s": 30.0,
                "questionnaires": ["GAD-7"],
                "fullscreen": False,
            },
        }
    )
    settings = KioskSettings.from_device_config(cfg, stable_frames=5)
    assert (settings.device_id, settings.language) == ("site-7", "zh")
    assert (settings.operator_pin, settings.idle_timeout_s) == ("2468", 30.0)
    assert settings.questionnaires == ("GAD-7",) and settings.fullscreen is False
    assert settings.stable_frames == 5
