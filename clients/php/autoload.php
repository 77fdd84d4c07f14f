<?php
/**
 * Autoloader for the mcsync PHP client (no Composer needed). Loads the client, its generated
 * message classes, and the pure-PHP protobuf runtime: Debian's php-google-protobuf (which has
 * no autoloader of its own) at /usr/share/php, or wherever MCSYNC_PROTOBUF_PHP points.
 */
declare(strict_types=1);

(static function (): void {
    $here = __DIR__;
    $protobuf = getenv('MCSYNC_PROTOBUF_PHP') ?: '/usr/share/php';
    // Most specific prefix first: Google\Rpc is ours, Google\Protobuf is the runtime's.
    $prefixes = [
        'Mcsync\\Client\\' => "$here/src/",
        'Mcsync\\V1\\' => "$here/generated/Mcsync/V1/",
        'GPBMetadata\\Mcsync\\' => "$here/generated/GPBMetadata/Mcsync/",
        'Google\\Rpc\\' => "$here/generated/Google/Rpc/",
        'GPBMetadata\\Google\\Rpc\\' => "$here/generated/GPBMetadata/Google/Rpc/",
        'Google\\Protobuf\\' => "$protobuf/Google/Protobuf/",
        'GPBMetadata\\Google\\Protobuf\\' => "$protobuf/GPBMetadata/Google/Protobuf/",
    ];
    spl_autoload_register(static function (string $class) use ($prefixes): void {
        foreach ($prefixes as $prefix => $dir) {
            if (strncmp($class, $prefix, strlen($prefix)) === 0) {
                $file = $dir . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
                if (is_file($file)) {
                    require $file;
                }
                return;
            }
        }
    });
})();
