"""The clinician report: one self-contained HTML page per session (`emoface receiver report`)
and the session listing shared with `receiver list` and the dashboard."""
