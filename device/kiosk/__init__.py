"""The kiosk: screens, session orchestration, stimulus packs and the device service.

Entry points: `emoface kiosk` and `emoface demo` (device/kiosk/cli.py). See docs/kiosk.md.
"""

import os

# pygame prints a banner on import unless told not to: the kiosk's output is for people.
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
