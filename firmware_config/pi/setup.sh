#!/usr/bin/env bash
# Raspberry Pi OS (bookworm, 64-bit) kiosk setup for emoface. Run as root from a checkout:
#   sudo EMOFACE_ALLOW_ROOT_DATA=0 bash firmware_config/pi/setup.sh [--read-only-root]
# Steps: packages, the emoface user, the app in /opt/emoface, /etc/emoface/device.toml,
# the systemd unit (Type=notify, watchdog), screen blanking off, camera permissions,
# network time, and optionally the read-only root (overlay file system). Idempotent.
set -euo pipefail
source "$(dirname "$0")/../common.sh"

READ_ONLY=0
for arg in "$@"; do
  case "$arg" in
    --read-only-root) READ_ONLY=1 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) die "unknown option $arg" ;;
  esac
done
require_root
grep -qi "raspberry pi" /proc/device-tree/model 2>/dev/null || say "warning: this does not look like a Raspberry Pi"

say "apt packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# python3-picamera2 comes from the Raspberry Pi archive (libcamera bindings are not on PyPI);
# fonts-wqy-zenhei gives the Simplified Chinese screens their glyphs.
apt-get install -y -qq python3-venv python3-pip python3-picamera2 fonts-wqy-zenhei \
  libsdl2-2.0-0 alsa-utils systemd-timesyncd >/dev/null

make_user
check_data_partition
install_app device
install_config

say "camera permissions"
# libcamera and USB cameras use /dev/video* and /dev/media* (group video); make sure the
# nodes are group-accessible even where an image ships a stricter rule.
cat > /etc/udev/rules.d/60-emoface-camera.rules <<'RULES'
SUBSYSTEM=="video4linux", GROUP="video", MODE="0660"
SUBSYSTEM=="media", GROUP="video", MODE="0660"
SUBSYSTEM=="dma_heap", GROUP="video", MODE="0660"
RULES
udevadm control --reload-rules && udevadm trigger || true

say "screen blanking off"
CMDLINE=/boot/firmware/cmdline.txt
[ -f "$CMDLINE" ] || CMDLINE=/boot/cmdline.txt
add_kernel_arg "$CMDLINE" consoleblank=0
command -v raspi-config >/dev/null && raspi-config nonint do_blanking 1 || true  # 1 = disable

install_service

if [ "$READ_ONLY" = 1 ]; then
  say "read-only root: overlay file system (writes to / go to RAM and vanish at reboot)"
  raspi-config nonint do_overlayfs 0  # 0 = enable
  say "root is read-only after the next reboot; run 'raspi-config nonint do_overlayfs 1' to update"
fi
say "done: reboot, then 'journalctl -u emoface-kiosk -f' shows the kiosk"
