<?php
declare(strict_types=1);

namespace Mcsync\Client;

/**
 * @internal Thrown from a stream's callback to leave the stream early (the server's work goes
 * on); {@see Client::startUpload()} catches it.
 */
final class StreamStopped extends \RuntimeException
{
}
