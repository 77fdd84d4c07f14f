<?php
declare(strict_types=1);

namespace Mcsync\Client;

/**
 * Native gRPC over cleartext HTTP/2 (h2c), for curl builds with HTTP/2: one multiplexed
 * connection, trailers as real HTTP/2 trailers.
 */
final class H2cTransport extends CurlTransport
{
    public static function isSupported(): bool
    {
        return defined('CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE')
            && (curl_version()['features'] & CURL_VERSION_HTTP2) !== 0;
    }

    protected function protocolOptions(): array
    {
        return [
            CURLOPT_HTTP_VERSION => CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE,
            CURLOPT_HTTPHEADER => ['content-type: application/grpc'],
        ];
    }
}
