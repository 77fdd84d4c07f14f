<?php
declare(strict_types=1);

namespace Mcsync\Client;

/**
 * gRPC-Web over plain HTTP/1.1: works with any curl, on any shared hosting, no grpc extension.
 */
final class GrpcWebTransport extends CurlTransport
{
    protected function protocolOptions(): array
    {
        return [
            CURLOPT_HTTP_VERSION => CURL_HTTP_VERSION_1_1,
            CURLOPT_HTTPHEADER => [
                'content-type: application/grpc-web+proto',
                'accept: application/grpc-web+proto',
                'x-grpc-web: 1',
            ],
        ];
    }
}
