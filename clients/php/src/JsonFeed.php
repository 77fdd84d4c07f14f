<?php
declare(strict_types=1);

namespace Mcsync\Client;

/**
 * The JSON feed: records as PHP arrays in the proto3 JSON mapping, encoded by `json_encode`
 * (C) instead of the protobuf runtime (PHP), on the same port and token as gRPC.
 *
 * - push(): `POST /v1/records:push`, NDJSON streamed from any iterable (a generator keeps
 *   memory flat whatever the feed's size), answered once every accepted record is durable;
 * - upsert(): `POST /v1/records:upsert`, one record, as Upsert.
 *
 * Always over HTTP/1.1, whichever transport the gRPC calls use: it is the faster one here
 * (200,000 records: 153,000/s over HTTP/1.1 and 109,000/s over h2c with curl alone, 134,000/s
 * and 103,000/s from PHP; BENCHMARKS.md), it works with any curl, and upserts keep one
 * keep-alive connection (curl 7.88 fails a second request on a re-used h2c connection to
 * mcsync).
 */
final class JsonFeed
{
    /** @var string */
    private $baseUrl;
    /** @var string|null */
    private $token;
    /** @var int */
    private $timeoutMs;
    /** @var int */
    private $connectTimeoutMs;
    /** @var int */
    private $stallMs;
    /** @var string|null */
    private $caFile;
    /** @var resource|\CurlHandle|null one handle for upserts, so that they share a connection */
    private $upsertHandle;

    /** json_encode flags: the shortest text, and a clear error rather than a silent change. */
    private const FLAGS = JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_THROW_ON_ERROR;

    /** Bytes curl asks the read callback for at a time (and so records encoded per call). */
    private const UPLOAD_BUFFER = 256 * 1024;

    /** @param array{timeout_ms?: int, stall_ms?: int, connect_timeout_ms?: int, ca_file?: string} $options */
    public function __construct(string $baseUrl, ?string $token = null, array $options = [])
    {
        $this->baseUrl = rtrim($baseUrl, '/');
        $this->token = $token;
        $this->timeoutMs = (int) ($options['timeout_ms'] ?? 30000);
        $this->connectTimeoutMs = (int) ($options['connect_timeout_ms'] ?? 5000);
        $this->stallMs = (int) ($options['stall_ms'] ?? 600000);
        $this->caFile = isset($options['ca_file']) ? (string) $options['ca_file'] : null;
    }

    public function __destruct()
    {
        if ($this->upsertHandle !== null) {
            curl_close($this->upsertHandle);
        }
    }

    /**
     * Streams the records and returns the summary: accepted, unchanged, deleted, rejected,
     * rejections (line, kind, id, field, reason), not_found_count, not_found.
     *
     * @param iterable<array<string, mixed>> $records
     * @return array<string, mixed>
     * @throws McsyncException when mcsync refuses the push (a line that is not a record, a
     *         line too long, a wrong token: getDetails() then has `line`, `field` and the
     *         `summary` of what was stored before it), or cannot be reached
     */
    public function push(iterable $records): array
    {
        $iterator = (function () use ($records) {
            yield from $records;
        })();
        $pending = '';
        $line = 0;
        $encodeError = null;
        $read = function ($ch, $fd, int $length) use ($iterator, &$pending, &$line, &$encodeError) {
            while (strlen($pending) < $length && $encodeError === null && $iterator->valid()) {
                try {
                    $pending .= json_encode($iterator->current(), self::FLAGS) . "\n";
                } catch (\JsonException $e) {
                    // The body ends cleanly before this record: mcsync stores and sums up the
                    // ones before it, which the exception then carries.
                    $encodeError = sprintf('record %d cannot be written as JSON: %s', $line + 1, $e->getMessage());
                    break;
                }
                $line++;
                $iterator->next();
            }
            if (strlen($pending) <= $length) {
                $out = $pending;
                $pending = '';
                return $out;
            }
            $out = substr($pending, 0, $length);
            $pending = substr($pending, $length);
            return $out;
        };
        $ch = curl_init($this->baseUrl . '/v1/records:push');
        curl_setopt_array($ch, $this->options(['content-type: application/x-ndjson']) + [
            CURLOPT_UPLOAD => true,
            CURLOPT_CUSTOMREQUEST => 'POST',
            CURLOPT_READFUNCTION => $read,
            CURLOPT_UPLOAD_BUFFERSIZE => self::UPLOAD_BUFFER,
            // A long feed has no deadline; it is cut only when nothing moves.
            CURLOPT_TIMEOUT_MS => 0,
            CURLOPT_LOW_SPEED_LIMIT => 1,
            CURLOPT_LOW_SPEED_TIME => max(1, intdiv($this->stallMs, 1000)),
        ]);
        $body = curl_exec($ch);
        $error = curl_error($ch);
        $status = (int) curl_getinfo($ch, CURLINFO_RESPONSE_CODE);
        curl_close($ch);
        $summary = $this->answer($body, $error, $status);
        if ($encodeError !== null) {
            throw new McsyncException(
                McsyncException::INVALID_ARGUMENT,
                $encodeError . sprintf('; the push stopped there, and the %d records before it are stored', $line),
                [],
                ['line' => $line + 1, 'summary' => $summary]
            );
        }
        return $summary;
    }

    /**
     * One change as it happens (the checkout page's call). Returns whether anything changed.
     *
     * @param array<string, mixed> $record
     * @throws McsyncException INVALID_ARGUMENT with the field violations, NOT_FOUND for the
     *         delete of an unknown record, UNAVAILABLE when mcsync cannot be reached
     */
    public function upsert(array $record): bool
    {
        try {
            $json = json_encode($record, self::FLAGS);
        } catch (\JsonException $e) {
            throw new McsyncException(McsyncException::INVALID_ARGUMENT, 'the record cannot be written as JSON: ' . $e->getMessage());
        }
        if ($this->upsertHandle === null) {
            $this->upsertHandle = curl_init();
        }
        $ch = $this->upsertHandle;
        curl_setopt_array($ch, $this->options(['content-type: application/json']) + [
            CURLOPT_URL => $this->baseUrl . '/v1/records:upsert',
            CURLOPT_POST => true,
            CURLOPT_POSTFIELDS => $json,
            CURLOPT_TIMEOUT_MS => $this->timeoutMs,
        ]);
        $body = curl_exec($ch);
        $answer = $this->answer($body, curl_error($ch), (int) curl_getinfo($ch, CURLINFO_RESPONSE_CODE));
        return (bool) ($answer['changed'] ?? false);
    }

    /** @param string[] $headers */
    private function options(array $headers): array
    {
        $headers[] = 'expect:';
        if ($this->token !== null && $this->token !== '') {
            $headers[] = 'authorization: Bearer ' . $this->token;
        }
        $options = [
            CURLOPT_HTTPHEADER => $headers,
            CURLOPT_RETURNTRANSFER => true,
            CURLOPT_CONNECTTIMEOUT_MS => $this->connectTimeoutMs,
            CURLOPT_TCP_NODELAY => true,
            CURLOPT_TCP_KEEPALIVE => 1,
            CURLOPT_HTTP_VERSION => CURL_HTTP_VERSION_1_1,
        ];
        if ($this->caFile !== null) {
            $options[CURLOPT_CAINFO] = $this->caFile;
        }
        return $options;
    }

    /**
     * The JSON answer of a 200, or the exception its error stands for.
     *
     * @param string|bool $body
     * @return array<string, mixed>
     */
    private function answer($body, string $curlError, int $status): array
    {
        if (!is_string($body) || $status === 0) {
            throw new McsyncException(McsyncException::UNAVAILABLE, 'cannot reach mcsync: ' . $curlError);
        }
        $answer = json_decode($body, true);
        if (!is_array($answer)) {
            throw new McsyncException(McsyncException::UNKNOWN, sprintf('mcsync answered HTTP %d without JSON', $status));
        }
        if ($status === 200) {
            return $answer;
        }
        $violations = [];
        foreach ($answer['field_violations'] ?? [] as $v) {
            $violations[(string) $v['field']] = (string) $v['description'];
        }
        if (isset($answer['field'], $answer['reason']) && $answer['field'] !== '') {
            $violations[(string) $answer['field']] = (string) $answer['reason'];
        }
        $code = McsyncException::codeNamed((string) ($answer['code'] ?? 'UNKNOWN'));
        unset($answer['code'], $answer['field_violations']);
        $message = (string) ($answer['message'] ?? "HTTP $status");
        unset($answer['message']);
        throw new McsyncException($code, $message, $violations, $answer);
    }
}
