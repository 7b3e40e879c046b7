"""The `emoface` command. Each role (device, export, provision, receiver) registers its own
sub-commands through the `emoface.commands` entry-point group, so device/ never imports the
workstation or clinic code and a kiosk install simply lacks their commands."""

from __future__ import annotations

import argparse
import logging
import sys
from importlib.metadata import entry_points

from device import __version__
from device.errors import EXIT_CODES, EmofaceError

ROLE_TITLES = {
    "device": "kiosk (device)",
    "export": "workstation (training and export)",
    "provision": "clinic provisioning",
    "receiver": "clinic receiver",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="emoface",
        description="emoface-edge: facial-biomarker screening on edge devices. "
        "A screening aid for clinicians, not a diagnosis.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"emoface-edge {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    lines = []
    for ep in sorted(
        entry_points(group="emoface.commands"),
        key=lambda e: list(ROLE_TITLES).index(e.name) if e.name in ROLE_TITLES else 99,
    ):
        try:
            register = ep.load()
        except ImportError as exc:  # a role whose extra is not installed
            logging.getLogger(__name__).debug("role %s unavailable: %s", ep.name, exc)
            continue
        before = set(sub.choices)
        register(sub)
        added = sorted(set(sub.choices) - before)
        if added:
            lines.append(f"  {ROLE_TITLES.get(ep.name, ep.name)}: {', '.join(added)}")
    codes = "\n".join(f"  {k}  {v}" for k, v in EXIT_CODES.items())
    parser.epilog = "commands by role:\n" + "\n".join(lines) + "\n\nexit codes:\n" + codes
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except EmofaceError as exc:
        print(f"emoface: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("emoface: interrupted", file=sys.stderr)
        return 130


def register(sub) -> None:
    """The device role's sub-commands. Each feature module owns its own parser (`add_cli`)."""
    from device.delivery import service as delivery
    from device.kiosk import cli as kiosk_cli
    from device.kiosk import selftest
    from device.models import bundle, landmark_store
    from device.session import analyze

    landmark_store.add_cli(sub)
    analyze.add_cli(sub)
    kiosk_cli.add_cli(sub)
    delivery.add_cli(sub)
    bundle.add_cli(sub)
    selftest.add_cli(sub)


if __name__ == "__main__":
    sys.exit(main())
