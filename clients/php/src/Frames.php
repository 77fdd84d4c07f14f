<?php
declare(strict_types=1);

namespace Mcsync\Client;

/**
 * gRPC's length-prefixed framing (1 flag byte, 4-byte big-endian length, payload), shared by
 * native gRPC and gRPC-Web. Flag 0x80 marks gRPC-Web's trailer frame.
 */
final class Frames
{
    public const TRAILER = 0x80;

    public static function encode(string $payload, int $flag = 0): string
    {
        return pack('CN', $flag, strlen($payload)) . $payload;
    }

    /** @var string bytes received but not yet a whole frame */
    private $buffer = '';

    /**
     * Feeds bytes as they arrive; returns the frames completed by them, as [flag, payload].
     * Lets a server stream be consumed message by message, whatever the chunking.
     *
     * @return array<int, array{0: int, 1: string}>
     */
    public function push(string $bytes): array
    {
        $this->buffer .= $bytes;
        $frames = [];
        while (strlen($this->buffer) >= 5) {
            $head = unpack('Cflag/Nlength', substr($this->buffer, 0, 5));
            $total = 5 + $head['length'];
            if (strlen($this->buffer) < $total) {
                break;
            }
            $frames[] = [$head['flag'], substr($this->buffer, 5, $head['length'])];
            $this->buffer = (string) substr($this->buffer, $total);
        }
        return $frames;
    }

    public function pending(): int
    {
        return strlen($this->buffer);
    }

    /**
     * gRPC-Web trailers ("grpc-status:0\r\ngrpc-message:...") as lower-cased name => value.
     *
     * @return array<string, string>
     */
    public static function parseTrailers(string $block): array
    {
        $out = [];
        foreach (preg_split('/\r?\n/', $block) as $line) {
            $pos = strpos($line, ':');
            if ($pos !== false) {
                $out[strtolower(trim(substr($line, 0, $pos)))] = trim(substr($line, $pos + 1));
            }
        }
        return $out;
    }
}
