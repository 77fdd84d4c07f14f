#!/usr/bin/env bash
# Installs the client with Composer, offline, against Debian's protobuf runtime, as a shop
# would install it from a path repository: Debian's /usr/share/php/Google/Protobuf stands in
# for the google/protobuf package (the public registry cannot be reached from CI). Prints the
# vendor/autoload.php it made.
#   clients/php/composer-offline.sh DIR
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir="$1"
runtime=/usr/share/php
version=$(dpkg-query -W -f='${Version}' php-google-protobuf 2>/dev/null | sed 's/[-+~].*//')
mkdir -p "$dir/protobuf" "$dir/app"
ln -sfn "$runtime/Google" "$dir/protobuf/Google"
ln -sfn "$runtime/GPBMetadata" "$dir/protobuf/GPBMetadata"
cat > "$dir/protobuf/composer.json" <<JSON
{
    "name": "google/protobuf",
    "version": "${version:-3.21.12}",
    "autoload": {"psr-4": {
        "Google\\\\Protobuf\\\\": "Google/Protobuf/",
        "GPBMetadata\\\\Google\\\\Protobuf\\\\": "GPBMetadata/Google/Protobuf/"
    }}
}
JSON
cat > "$dir/app/composer.json" <<JSON
{
    "name": "mcsync/offline-check",
    "repositories": [
        {"packagist.org": false},
        {"type": "path", "url": "$here", "options": {"symlink": true}},
        {"type": "path", "url": "$dir/protobuf", "options": {"symlink": true}}
    ],
    "require": {"mcsync/client": "*@dev"},
    "minimum-stability": "dev",
    "prefer-stable": true
}
JSON
export COMPOSER_ALLOW_SUPERUSER=1 COMPOSER_HOME="$dir/home" COMPOSER_DISABLE_NETWORK=1
composer --working-dir="$dir/app" install --no-interaction --quiet --no-progress
echo "$dir/app/vendor/autoload.php"
