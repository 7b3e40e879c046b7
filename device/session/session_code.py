"""Session codes: a short, human-readable handle reception writes into the patient's record.

The code is random (no name, date or counter in it), shown on the thank-you screen and in
the operator menu, and carried in the summary and any alert, so the clinic can find the
session without any patient identifier leaving the device. The alphabet (device.wire.alert)
leaves out characters that are easy to misread or mistype.
"""

from __future__ import annotations

import secrets

from device.wire.alert import SESSION_CODE_ALPHABET, SESSION_CODE_LENGTH, is_session_code

__all__ = ["is_session_code", "new_session_code"]


def new_session_code() -> str:
    """A fresh code, e.g. "K7QM2X" (31^6, about 890 million possibilities)."""
    return "".join(secrets.choice(SESSION_CODE_ALPHABET) for _ in range(SESSION_CODE_LENGTH))
