# Shared steps of pi/setup.sh and jetson/setup.sh (sourced, not run). Every step is
# idempotent: re-running the setup after an update changes only what differs.

EMOFACE_USER=emoface
EMOFACE_HOME=/opt/emoface
EMOFACE_DATA=/var/lib/emoface
EMOFACE_ETC=/etc/emoface
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"

say() { echo "[emoface-setup] $*"; }
die() { echo "[emoface-setup] error: $*" >&2; exit 1; }

require_root() { [ "$(id -u)" -eq 0 ] || die "run as root (sudo $0)"; }

make_user() {
  # A system user with no login shell; video/render/input for camera, display and touch.
  if ! id "$EMOFACE_USER" >/dev/null 2>&1; then
    say "creating user $EMOFACE_USER"
    useradd --system --home-dir "$EMOFACE_DATA" --shell /usr/sbin/nologin "$EMOFACE_USER"
  fi
  for g in video render input audio; do
    getent group "$g" >/dev/null && usermod -a -G "$g" "$EMOFACE_USER"
  done
}

check_data_partition() {
  # The root file system becomes read-only; the outbox must live on a writable partition
  # that survives power loss. Recommended: an ext4 partition labelled emoface-data,
  #   LABEL=emoface-data  /var/lib/emoface  ext4  defaults,noatime,data=journal  0 2
  mkdir -p "$EMOFACE_DATA"
  if mountpoint -q "$EMOFACE_DATA"; then
    say "data partition mounted at $EMOFACE_DATA"
  elif [ "${EMOFACE_ALLOW_ROOT_DATA:-0}" = 1 ]; then
    say "warning: $EMOFACE_DATA is not a separate partition (EMOFACE_ALLOW_ROOT_DATA=1)"
  else
    die "$EMOFACE_DATA is not a mounted partition: create one (see firmware_config/README.md) or set EMOFACE_ALLOW_ROOT_DATA=1 for a trial install"
  fi
  chown "$EMOFACE_USER:$EMOFACE_USER" "$EMOFACE_DATA"
  chmod 0750 "$EMOFACE_DATA"
}

install_app() {
  # $1: pip extra ("device"); the venv sees system packages (picamera2, Jetson's OpenCV).
  local extra="$1"
  mkdir -p "$EMOFACE_HOME"
  [ -x "$EMOFACE_HOME/.venv/bin/python" ] || python3 -m venv --system-site-packages "$EMOFACE_HOME/.venv"
  say "installing emoface-edge[$extra] into $EMOFACE_HOME/.venv"
  "$EMOFACE_HOME/.venv/bin/pip" install -q --upgrade "$REPO[$extra]"
  mkdir -p "$EMOFACE_HOME/docs"
  cp -r "$REPO/docs/." "$EMOFACE_HOME/docs/" 2>/dev/null || true
  say "landmark models (verified against pinned SHA-256)"
  "$EMOFACE_HOME/.venv/bin/emoface" models fetch --dir "$EMOFACE_HOME/landmark-models"
}

install_config() {
  mkdir -p "$EMOFACE_ETC"
  if [ ! -f "$EMOFACE_ETC/device.toml" ]; then
    say "writing $EMOFACE_ETC/device.toml from the example: edit device.id and [delivery]"
    sed -e 's|^# landmark_dir = .*|landmark_dir = "/opt/emoface/landmark-models"|' \
      "$HERE/device.example.toml" > "$EMOFACE_ETC/device.toml"
  fi
  chown -R root:"$EMOFACE_USER" "$EMOFACE_ETC"
  chmod 0750 "$EMOFACE_ETC"
  find "$EMOFACE_ETC" -type f -exec chmod 0640 {} +
}

install_service() {
  say "systemd unit, network time, poweroff rule"
  install -m 0644 "$HERE/systemd/emoface-kiosk.service" /etc/systemd/system/emoface-kiosk.service
  # Wait for NTP before time-sync.target: no session is recorded with a wrong clock.
  systemctl enable systemd-timesyncd.service systemd-time-wait-sync.service >/dev/null 2>&1 || true
  # The kiosk owns tty1: no login prompt drawn over it.
  systemctl disable getty@tty1.service >/dev/null 2>&1 || true
  mkdir -p /etc/polkit-1/rules.d
  cat > /etc/polkit-1/rules.d/50-emoface-poweroff.rules <<'RULES'
// Lets the kiosk's operator menu power the station off, and nothing else.
polkit.addRule(function(action, subject) {
  if (action.id == "org.freedesktop.login1.power-off" && subject.user == "emoface") {
    return polkit.Result.YES;
  }
});
RULES
  systemctl daemon-reload
  systemctl enable emoface-kiosk.service
}

add_kernel_arg() {
  # $1: cmdline file, $2: argument (added once to the single-line kernel command line).
  local file="$1" arg="$2"
  [ -f "$file" ] || { say "warning: $file not found: add '$arg' to the kernel command line by hand"; return; }
  grep -qw -- "$arg" "$file" || sed -i "1 s|\$| $arg|" "$file"
}
