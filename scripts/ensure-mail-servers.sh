# Sourced by test.sh: the project's own Dovecot (IMAP) on a free loopback port, for the email tests.
# Debian's package is installed once; the system's Dovecot is never configured nor started. The
# config, the mailboxes and the logs live under var/mail-servers/. The SMTP server the tests talk
# to is aiosmtpd, started inside the test process.
if [ ! -x /usr/sbin/dovecot ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "Installing Debian's dovecot-imapd for the email tests..."
  # Another shell may be installing at the same moment: apt's lock makes one of us wait.
  for _ in 1 2 3; do
    if DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
      -o DPkg::Lock::Timeout=120 dovecot-imapd > /dev/null 2>&1; then
      break
    fi
    $SUDO apt-get update -qq > /dev/null 2>&1 || true
  done
fi
_mail_dir="$ROOT/var/mail-servers"
mkdir -p "$_mail_dir/run/state" "$_mail_dir/mail" "$_mail_dir/log"
_pid_file="$_mail_dir/run/master.pid"
# A self-signed certificate for 127.0.0.1: the TLS tests trust it as their only CA.
if [ ! -f "$_mail_dir/tls-cert.pem" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1" -keyout "$_mail_dir/tls-key.pem" \
    -out "$_mail_dir/tls-cert.pem" > /dev/null 2>&1
fi
_free_port() {
  python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
_running=""
if [ -f "$_pid_file" ] && kill -0 "$(cat "$_pid_file")" 2>/dev/null; then
  _running="$(cat "$_pid_file")"
fi
# Ports stay those of the running instance; a missing one makes the config differ (a restart).
if [ -n "$_running" ] && [ -f "$_mail_dir/port" ]; then
  _port="$(cat "$_mail_dir/port")"
else
  _port="$(_free_port)"
fi
if [ -n "$_running" ] && [ -f "$_mail_dir/tls-port" ]; then
  _tls_port="$(cat "$_mail_dir/tls-port")"
else
  _tls_port="$(_free_port)"
fi
_user="$(id -un)"
_group="$(id -gn)"
_login_user="$_user"
if [ "$(id -u)" -eq 0 ]; then
  # Dovecot refuses root for its login processes and for mail: the package's own users serve.
  _login_user=dovenull
  _user=dovecot
  _group=dovecot
  chown -R dovecot:dovecot "$_mail_dir/mail"
fi
# Any user name logs in with the test password (a static passdb): each test makes its own
# mailbox. No failure delay and no penalty on loopback: tests log in wrongly on purpose.
cat > "$_mail_dir/dovecot.conf.new" <<CONF
base_dir = $_mail_dir/run
state_dir = $_mail_dir/run/state
instance_name = cc-test-$(basename "$ROOT")
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <$_mail_dir/tls-cert.pem
ssl_key = <$_mail_dir/tls-key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
login_trusted_networks = 127.0.0.0/8
log_path = $_mail_dir/log/dovecot.log
default_login_user = $_login_user
default_internal_user = $_user
default_internal_group = $_group
first_valid_uid = $(id -u "$_user")
mail_location = maildir:$_mail_dir/mail/%u
passdb {
  driver = static
  args = password=test-mail-password
}
userdb {
  driver = static
  args = uid=$_user gid=$_group home=$_mail_dir/mail/%u
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $_port
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $_tls_port
  }
  chroot =
}
service anvil {
  chroot =
}
CONF
if [ -n "$_running" ] && ! cmp -s "$_mail_dir/dovecot.conf.new" "$_mail_dir/dovecot.conf"; then
  # The config changed: stop our own instance (its pid only) and start it again.
  kill "$_running" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$_running" 2>/dev/null || break; sleep 0.1; done
  _running=""
fi
mv "$_mail_dir/dovecot.conf.new" "$_mail_dir/dovecot.conf"
if [ -z "$_running" ]; then
  /usr/sbin/dovecot -c "$_mail_dir/dovecot.conf" 2> "$_mail_dir/log/start.log"
  echo "$_port" > "$_mail_dir/port"
  echo "$_tls_port" > "$_mail_dir/tls-port"
  for _ in $(seq 1 50); do
    python -c "import socket; socket.create_connection(('127.0.0.1', $_port), 1).close()" 2>/dev/null && break
    sleep 0.1
  done
fi
export TEST_IMAP_HOST=127.0.0.1
export TEST_IMAP_PORT="$_port"
export TEST_IMAPS_PORT="$_tls_port"
export TEST_MAIL_TLS_CERT="$_mail_dir/tls-cert.pem"
export TEST_IMAP_PASSWORD=test-mail-password
