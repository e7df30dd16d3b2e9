# Sourced by test.sh: the project's own clamd for the tests, with the tiny signature database in
# tests/clamav/ (EICAR's test signature). Installs Debian's clamav-daemon once; starts clamd on a
# socket under var/clamav/ unless it already answers there; exports CLAMD_SOCKET.
# Production runs clamd with freshclam's databases and points CLAMD_SOCKET at it (see README).
_clamd_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_clamd_dir="$_clamd_root/var/clamav"
_clamd_socket="$_clamd_dir/clamd.sock"

_clamd_ping() {
  python3 - "$1" <<'EOF'
import socket, sys
try:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(2)
        s.connect(sys.argv[1])
        s.sendall(b"zPING\0")
        sys.exit(0 if s.recv(16).startswith(b"PONG") else 1)
except OSError:
    sys.exit(1)
EOF
}

if [ ! -x /usr/sbin/clamd ]; then
  _sudo=""
  [ "$(id -u)" -eq 0 ] || _sudo="sudo"
  echo "Installing Debian's clamav-daemon for the scanning tests..."
  $_sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $_sudo apt-get install -y -qq --no-install-recommends \
    clamav-daemon > /dev/null
  # The packaged services would fetch the official databases from the network (not reachable
  # here) and run a second clamd: the tests use only the project's own one.
  if [ -d /run/systemd/system ]; then
    $_sudo systemctl disable --now clamav-freshclam.service clamav-daemon.service \
      clamav-daemon.socket > /dev/null 2>&1 || true
  else
    for _svc in clamav-freshclam clamav-daemon; do
      if [ -x "/etc/init.d/$_svc" ]; then
        $_sudo "/etc/init.d/$_svc" stop > /dev/null 2>&1 || true
        $_sudo update-rc.d "$_svc" disable > /dev/null 2>&1 || true
      fi
    done
  fi
fi

if ! _clamd_ping "$_clamd_socket"; then
  mkdir -p "$_clamd_dir"
  cat > "$_clamd_dir/clamd.conf" <<EOF
LocalSocket $_clamd_socket
LocalSocketMode 600
PidFile $_clamd_dir/clamd.pid
LogFile $_clamd_dir/clamd.log
DatabaseDirectory $_clamd_root/tests/clamav
Foreground no
StreamMaxLength 110M
MaxFileSize 110M
MaxScanSize 110M
EOF
  rm -f "$_clamd_socket"
  /usr/sbin/clamd --config-file="$_clamd_dir/clamd.conf"
  for _i in $(seq 1 100); do
    _clamd_ping "$_clamd_socket" && break
    sleep 0.2
  done
  _clamd_ping "$_clamd_socket" || { echo "clamd did not start: see $_clamd_dir/clamd.log" >&2; exit 1; }
fi
export CLAMD_SOCKET="$_clamd_socket"
export CLAMD_BIN=/usr/sbin/clamd
export CLAMAV_TEST_DATABASE="$_clamd_root/tests/clamav"
