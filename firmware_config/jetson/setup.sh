#!/usr/bin/env bash
# NVIDIA Jetson (JetPack 6 / Ubuntu 22.04) kiosk setup for emoface. Run as root:
#   sudo bash firmware_config/jetson/setup.sh [--read-only-root]
# Steps: packages, the emoface user, the app in /opt/emoface (using JetPack's OpenCV, which
# has GStreamer for CSI cameras), /etc/emoface/device.toml, the systemd unit, console
# instead of the desktop, screen blanking off, camera permissions, network time, and
# optionally a read-only root (overlayroot). Idempotent.
set -euo pipefail
source "$(dirname "$0")/../common.sh"

READ_ONLY=0
for arg in "$@"; do
  case "$arg" in
    --read-only-root) READ_ONLY=1 ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) die "unknown option $arg" ;;
  esac
done
require_root
[ -f /etc/nv_tegra_release ] || say "warning: /etc/nv_tegra_release missing: is this a Jetson?"

say "apt packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq python3-venv python3-pip python3-opencv fonts-wqy-zenhei \
  libsdl2-2.0-0 alsa-utils systemd-timesyncd gstreamer1.0-tools >/dev/null

make_user
usermod -a -G video "$EMOFACE_USER"
check_data_partition
install_app device
# PyPI's OpenCV has no GStreamer: drop it so the venv uses JetPack's (system) cv2, which
# can open nvarguscamerasrc pipelines (camera.source = "gst:...").
"$EMOFACE_HOME/.venv/bin/pip" uninstall -y -q opencv-python-headless opencv-python 2>/dev/null || true
"$EMOFACE_HOME/.venv/bin/python" -c "import cv2, sys; sys.exit(0 if 'GStreamer:                   YES' in cv2.getBuildInformation() else 1)" \
  || say "warning: this OpenCV lacks GStreamer: use a USB camera (camera.source = \"usb:0\")"
install_config

say "camera permissions"
cat > /etc/udev/rules.d/60-emoface-camera.rules <<'RULES'
SUBSYSTEM=="video4linux", GROUP="video", MODE="0660"
KERNEL=="nvhost-*", GROUP="video", MODE="0660"
RULES
udevadm control --reload-rules && udevadm trigger || true
# nvargus-daemon serves CSI cameras; it must run for gst:nvarguscamerasrc pipelines.
systemctl enable --now nvargus-daemon.service >/dev/null 2>&1 || true

say "console kiosk: no desktop, screen blanking off"
systemctl set-default multi-user.target
add_kernel_arg_extlinux() {
  local f=/boot/extlinux/extlinux.conf
  [ -f "$f" ] || { say "warning: $f not found: add consoleblank=0 to the kernel command line"; return; }
  grep -q "consoleblank=0" "$f" || sed -i '/^\s*APPEND / s|$| consoleblank=0|' "$f"
}
add_kernel_arg_extlinux

install_service

if [ "$READ_ONLY" = 1 ]; then
  say "read-only root: overlayroot (writes to / go to RAM; the data partition stays writable)"
  apt-get install -y -qq overlayroot >/dev/null
  sed -i 's|^overlayroot=.*|overlayroot="tmpfs:recurse=0"|' /etc/overlayroot.conf
  say "root is read-only after the next reboot; 'overlayroot-chroot' makes changes"
fi
say "done: reboot, then 'journalctl -u emoface-kiosk -f' shows the kiosk"
