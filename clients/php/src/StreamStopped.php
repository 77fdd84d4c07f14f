<?php
declare(strict_types=1);

namespace Mcsync\Client;

/**
 * Throw it from a stream's callback to leave the stream early: the call ends quietly for the
 * catcher, and the server's work goes on (a job runs on; events stay stored for the next
 * read). {@see Client::startUpload()} uses it.
 */
final class StreamStopped extends \RuntimeException
{
}
