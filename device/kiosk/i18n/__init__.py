"""The kiosk's one message catalogue (English and Simplified Chinese) and its lookup.

Every string a patient or operator can see lives in `device.kiosk.i18n.catalogue.MESSAGES`, keyed
once with one text per language, so a screen can never show a half-translated page. The
config says "en" or "zh"; "zh" means Simplified Chinese (zh-Hans).
"""

from __future__ import annotations

from device.kiosk.i18n.catalogue import LANGUAGES, MESSAGES

__all__ = ["LANGUAGES", "MESSAGES", "normalise_language", "t", "tn"]

_ALIASES = {
    "en": "en",
    "en-gb": "en",
    "en-us": "en",
    "zh": "zh-Hans",
    "zh-hans": "zh-Hans",
    "zh-cn": "zh-Hans",
}


def normalise_language(lang: str) -> str:
    """Map the config's language code to a catalogue language ("en" or "zh-Hans")."""
    try:
        return _ALIASES[lang.lower()]
    except KeyError:
        raise KeyError(f"unknown language {lang!r}: use one of {', '.join(LANGUAGES)}") from None


def t(key: str, lang: str = "en", **values) -> str:
    """The text of `key` in `lang`, with `{name}` placeholders filled from `values`."""
    entry = MESSAGES[key]
    text = entry[normalise_language(lang)]
    return text.format(**values) if values else text


def plural_form(n: int, lang: str = "en") -> str:
    """The catalogue's plural form of a count: "one" or "other" (Chinese has no plural,
    so its two forms may read the same)."""
    return "one" if n == 1 and normalise_language(lang) == "en" else "other"


def tn(key: str, n: int, lang: str = "en", **values) -> str:
    """A message about `n` things: `key.one` or `key.other` (see plural_form), with {n}."""
    form = f"{key}.{plural_form(n, lang)}"
    if form not in MESSAGES:  # Chinese: "one" falls back to the single "other" text
        form = f"{key}.other"
    return t(form, lang, n=n, **values)
