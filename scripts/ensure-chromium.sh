# Sourced by test.sh: Debian's headless Chromium for the browser tests, installed once.
if [ ! -x /usr/bin/chromium ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "Installing Debian's chromium for the browser tests..."
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core > /dev/null
fi
export CHROMIUM_PATH=/usr/bin/chromium
