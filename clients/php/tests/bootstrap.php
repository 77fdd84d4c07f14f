<?php
declare(strict_types=1);

// The client's own autoloader, or Composer's (MCSYNC_AUTOLOAD, see composer-offline.sh).
require getenv('MCSYNC_AUTOLOAD') ?: __DIR__ . '/../autoload.php';
require __DIR__ . '/Processes.php';
