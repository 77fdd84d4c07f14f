<?php
declare(strict_types=1);

namespace Mcsync\Client;

/**
 * What both curl transports share: the streamed request body, the incremental response parser,
 * status and trailer handling, timeouts and the bearer token.
 */
abstract class CurlTransport implements Transport
{
    /** @var string */
    private $baseUrl;
    /** @var string|null */
    private $token;
    /** @var int default deadline of a unary call, in ms */
    private $timeoutMs;
    /** @var int default deadline of a streaming call, in ms; 0: none */
    private $streamTimeoutMs;
    /** @var int */
    private $connectTimeoutMs;
    /** @var int messages encoded per read of the request body */
    private $chunkMessages;
    /** @var int a call on which no byte moves for this long is cut, in ms */
    private $stallMs;
    /** @var string|null CA certificate (PEM) of an https server, when not in the system's store */
    private $caFile;

    /**
     * An `https://` base URL speaks TLS (the server's `--tls-cert`); `ca_file` names the CA that
     * signed its certificate when the system does not trust it.
     *
     * Deadlines: a unary call gets `timeout_ms` (30 s) unless the caller gives one; a streaming
     * call (PushRecords, UploadStoreData, WatchJob) gets `stream_timeout_ms`, none by default,
     * and is kept alive with TCP keepalive, cut only when nothing moves for `stall_ms` (10 min).
     *
     * @param array{timeout_ms?: int, stream_timeout_ms?: int, stall_ms?: int, connect_timeout_ms?: int, chunk_messages?: int, ca_file?: string} $options
     */
    public function __construct(string $baseUrl, ?string $token = null, array $options = [])
    {
        $this->caFile = isset($options['ca_file']) ? (string) $options['ca_file'] : null;
        $this->baseUrl = rtrim($baseUrl, '/');
        $this->token = $token;
        $this->timeoutMs = (int) ($options['timeout_ms'] ?? 30000);
        $this->streamTimeoutMs = (int) ($options['stream_timeout_ms'] ?? 0);
        $this->stallMs = (int) ($options['stall_ms'] ?? 600000);
        $this->connectTimeoutMs = (int) ($options['connect_timeout_ms'] ?? 5000);
        $this->chunkMessages = max(1, (int) ($options['chunk_messages'] ?? 500));
    }

    /** curl options that make this transport what it is (HTTP version, content type). */
    abstract protected function protocolOptions(): array;


    /**
     * curl 7.x over HTTP/2 drops a complete answer when the server, having answered before it
     * read the request (as gRPC servers do when they refuse a token), resets the rest of the
     * stream with NO_ERROR, as HTTP/2 allows. Then nothing was received and curl reports
     * CURLE_HTTP2_STREAM; a replayable request is simply sent again (mcsync's unary calls are
     * idempotent). A streamed request (a generator) is never replayed.
     */
    private const ATTEMPTS_AFTER_STREAM_RESET = 3;

    /** curl.h's CURLE_HTTP2_STREAM, which PHP does not define. */
    private const CURLE_HTTP2_STREAM = 92;

    /** curl.h's CURLE_OPERATION_TIMEDOUT. */
    private const CURLE_OPERATION_TIMEDOUT = 28;

    public function call(string $path, iterable $requests, callable $onMessage, ?int $deadlineMs = null, bool $streaming = false): void
    {
        $deadlineMs = $deadlineMs ?? ($streaming ? $this->streamTimeoutMs : $this->timeoutMs);
        $attempts = is_array($requests) ? self::ATTEMPTS_AFTER_STREAM_RESET : 1;
        for ($attempt = 1; ; $attempt++) {
            $delivered = false;
            $reset = $this->attempt($path, $requests, function (string $bytes) use ($onMessage, &$delivered) {
                $delivered = true;
                $onMessage($bytes);
            }, max(0, $deadlineMs));
            if ($reset === null) {
                return;
            }
            if ($delivered || $attempt >= $attempts) {
                throw $reset;
            }
        }
    }

    /**
     * One attempt. Returns null when the call is over, the failure to report when curl lost
     * the stream before any status arrived (so a retry may help), and throws otherwise.
     */
    private function attempt(string $path, iterable $requests, callable $onMessage, int $deadlineMs): ?McsyncException
    {
        $iterator = (function () use ($requests) {
            yield from $requests;
        })();
        $pending = '';
        $readBody = function ($ch, $fd, int $length) use ($iterator, &$pending): string {
            // Encode a chunk of messages at a time: a long stream never sits in memory whole.
            $count = 0;
            while (strlen($pending) < $length && $iterator->valid() && $count < $this->chunkMessages) {
                $pending .= Frames::encode($iterator->current()->serializeToString());
                $iterator->next();
                $count++;
            }
            $out = (string) substr($pending, 0, $length);
            $pending = (string) substr($pending, strlen($out));
            return $out;
        };

        $headers = [];
        $readHeader = function ($ch, string $line) use (&$headers): int {
            $pos = strpos($line, ':');
            if ($pos !== false) {
                // Native gRPC's trailers arrive here too, after the body.
                $headers[strtolower(trim(substr($line, 0, $pos)))] = trim(substr($line, $pos + 1));
            }
            return strlen($line);
        };

        $frames = new Frames();
        $trailers = [];
        $callbackError = null;
        $readResponse = function ($ch, string $bytes) use ($frames, $onMessage, &$trailers, &$callbackError): int {
            try {
                foreach ($frames->push($bytes) as [$flag, $payload]) {
                    if ($flag & Frames::TRAILER) {
                        $trailers = Frames::parseTrailers($payload);
                    } else {
                        $onMessage($payload);
                    }
                }
            } catch (\Throwable $e) {
                $callbackError = $e;
                return 0; // aborts the transfer
            }
            return strlen($bytes);
        };

        $httpHeaders = ['te: trailers', 'expect:'];
        if ($deadlineMs > 0) {
            $httpHeaders[] = 'grpc-timeout: ' . $deadlineMs . 'm';
        }
        if ($this->token !== null && $this->token !== '') {
            $httpHeaders[] = 'authorization: Bearer ' . $this->token;
        }
        $ch = curl_init($this->baseUrl . $path);
        $options = [
            CURLOPT_POST => true,
            CURLOPT_HEADERFUNCTION => $readHeader,
            CURLOPT_WRITEFUNCTION => $readResponse,
            CURLOPT_TIMEOUT_MS => $deadlineMs,
            CURLOPT_CONNECTTIMEOUT_MS => $this->connectTimeoutMs,
            CURLOPT_TCP_NODELAY => true,
            CURLOPT_TCP_KEEPALIVE => 1,
            CURLOPT_LOW_SPEED_LIMIT => 1,
            CURLOPT_LOW_SPEED_TIME => max(1, intdiv($this->stallMs, 1000)),
        ];
        if ($this->caFile !== null) {
            $options[CURLOPT_CAINFO] = $this->caFile;
        }
        if (is_array($requests)) {
            // A known list (every unary call) goes as one body in one write; only a stream of
            // unknown length (a generator) is pulled through the read callback, chunk by chunk.
            $body = '';
            foreach ($requests as $request) {
                $body .= Frames::encode($request->serializeToString());
            }
            $options[CURLOPT_POSTFIELDS] = $body;
        } else {
            $options[CURLOPT_UPLOAD] = true;
            $options[CURLOPT_CUSTOMREQUEST] = 'POST';
            $options[CURLOPT_READFUNCTION] = $readBody;
        }
        foreach ($this->protocolOptions() as $k => $v) {
            if ($k === CURLOPT_HTTPHEADER) {
                $httpHeaders = array_merge($httpHeaders, $v);
            } else {
                $options[$k] = $v;
            }
        }
        $options[CURLOPT_HTTPHEADER] = $httpHeaders;
        curl_setopt_array($ch, $options);
        $ok = curl_exec($ch);
        $curlError = curl_error($ch);
        $curlErrno = curl_errno($ch);
        $httpStatus = (int) curl_getinfo($ch, CURLINFO_RESPONSE_CODE);
        curl_close($ch);

        if ($callbackError !== null) {
            throw $callbackError;
        }
        // A status in the headers (trailers-only answer) wins over a broken transfer.
        $status = $trailers + $headers;
        if (isset($status['grpc-status'])) {
            $code = (int) $status['grpc-status'];
            if ($code !== McsyncException::OK) {
                throw McsyncException::fromStatus($code, $status['grpc-message'] ?? '', $status['grpc-status-details-bin'] ?? '');
            }
            if ($frames->pending() !== 0) {
                throw new McsyncException(McsyncException::INTERNAL, 'response ended inside a message');
            }
            return null;
        }
        if ($ok === false && $curlErrno === self::CURLE_OPERATION_TIMEDOUT && $deadlineMs > 0) {
            throw new McsyncException(McsyncException::DEADLINE_EXCEEDED, "no answer within the deadline of $deadlineMs ms: $curlError");
        }
        if ($ok === false) {
            $failure = new McsyncException(McsyncException::UNAVAILABLE, 'cannot reach mcsync: ' . $curlError);
            if ($curlErrno === self::CURLE_HTTP2_STREAM) {
                return $failure;
            }
            throw $failure;
        }
        throw new McsyncException(
            $httpStatus === 401 ? McsyncException::UNAUTHENTICATED : McsyncException::UNKNOWN,
            sprintf('no grpc-status in the answer (HTTP %d)', $httpStatus)
        );
    }
}
