<?php
declare(strict_types=1);

namespace Mcsync\Client;

/**
 * One gRPC call over curl: requests are sent as they are produced, responses are handed to
 * the callback as they arrive, so unary, client-streaming and server-streaming calls all work
 * without holding a stream in memory.
 */
interface Transport
{
    /**
     * @param string $path e.g. "/mcsync.v1.SettingsService/GetSettings"
     * @param iterable<\Google\Protobuf\Internal\Message> $requests
     * @param callable(string): void $onMessage called with each serialized response message
     * @param int|null $deadlineMs the call's deadline; null for the transport's default (one
     *        for unary calls, none for streaming ones); 0 for none
     * @param bool $streaming whether the call streams (it then has no default deadline)
     * @throws McsyncException on any non-OK status or transport failure
     */
    public function call(string $path, iterable $requests, callable $onMessage, ?int $deadlineMs = null, bool $streaming = false): void;
}
