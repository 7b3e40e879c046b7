"""The kiosk: screens, session orchestration, stimulus packs and the device service.

Entry points: `emoface kiosk` and `emoface demo` (device/kiosk/cli.py). See docs/kiosk.md.
"""
