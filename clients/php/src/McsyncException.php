<?php
declare(strict_types=1);

namespace Mcsync\Client;

use Google\Rpc\BadRequest;
use Google\Rpc\Status;

/**
 * The one error type of the client: a gRPC status from mcsync (or a transport failure, reported
 * as UNAVAILABLE), with the field violations of an INVALID_ARGUMENT.
 */
final class McsyncException extends \RuntimeException
{
    public const OK = 0;
    public const CANCELLED = 1;
    public const UNKNOWN = 2;
    public const INVALID_ARGUMENT = 3;
    public const DEADLINE_EXCEEDED = 4;
    public const NOT_FOUND = 5;
    public const PERMISSION_DENIED = 7;
    public const RESOURCE_EXHAUSTED = 8;
    public const FAILED_PRECONDITION = 9;
    public const INTERNAL = 13;
    public const UNAVAILABLE = 14;
    public const UNAUTHENTICATED = 16;

    /** @var int */
    private $grpcCode;
    /** @var string */
    private $grpcMessage;
    /** @var array<string, string> field path => reason */
    private $fieldViolations;
    /** @var array<string, mixed> */
    private $details;

    /**
     * @param array<string, string> $fieldViolations
     * @param array<string, mixed> $details what else the JSON feed's answer said
     */
    public function __construct(int $grpcCode, string $grpcMessage, array $fieldViolations = [], array $details = [])
    {
        parent::__construct(sprintf('mcsync: %s (gRPC code %d)', $grpcMessage, $grpcCode), $grpcCode);
        $this->grpcCode = $grpcCode;
        $this->grpcMessage = $grpcMessage;
        $this->fieldViolations = $fieldViolations;
        $this->details = $details;
    }

    /** The code gRPC names so (the JSON feed's `code`), UNKNOWN for any other name. */
    public static function codeNamed(string $name): int
    {
        $codes = [
            'OK' => self::OK, 'CANCELLED' => self::CANCELLED, 'UNKNOWN' => self::UNKNOWN,
            'INVALID_ARGUMENT' => self::INVALID_ARGUMENT, 'DEADLINE_EXCEEDED' => self::DEADLINE_EXCEEDED,
            'NOT_FOUND' => self::NOT_FOUND, 'PERMISSION_DENIED' => self::PERMISSION_DENIED,
            'RESOURCE_EXHAUSTED' => self::RESOURCE_EXHAUSTED, 'FAILED_PRECONDITION' => self::FAILED_PRECONDITION,
            'INTERNAL' => self::INTERNAL, 'UNAVAILABLE' => self::UNAVAILABLE, 'UNAUTHENTICATED' => self::UNAUTHENTICATED,
        ];
        return $codes[$name] ?? self::UNKNOWN;
    }

    /**
     * Builds the exception from a non-OK status, its percent-encoded message and the
     * base64 `grpc-status-details-bin` (a google.rpc.Status), as the server sent them.
     */
    public static function fromStatus(int $code, string $encodedMessage, string $detailsBin = ''): self
    {
        $violations = [];
        if ($detailsBin !== '') {
            $raw = base64_decode(strtr($detailsBin, '-_', '+/') . str_repeat('=', (4 - strlen($detailsBin) % 4) % 4), true);
            if ($raw !== false) {
                try {
                    $status = new Status();
                    $status->mergeFromString($raw);
                    foreach ($status->getDetails() as $any) {
                        if (substr($any->getTypeUrl(), -strlen('google.rpc.BadRequest')) === 'google.rpc.BadRequest') {
                            $bad = new BadRequest();
                            $bad->mergeFromString($any->getValue());
                            foreach ($bad->getFieldViolations() as $v) {
                                $violations[$v->getField()] = $v->getDescription();
                            }
                        }
                    }
                } catch (\Exception $e) {
                    // Details are a bonus: the code and message still say what went wrong.
                }
            }
        }
        return new self($code, rawurldecode($encodedMessage), $violations);
    }

    public function getGrpcCode(): int
    {
        return $this->grpcCode;
    }

    public function getGrpcMessage(): string
    {
        return $this->grpcMessage;
    }

    /** @return array<string, string> field path => reason, e.g. ['shop.email' => '...'] */
    public function getFieldViolations(): array
    {
        return $this->fieldViolations;
    }

    /**
     * What else a refusal of the JSON feed said: for a push, `line` (from 1), `field`,
     * `reason`, and the `summary` of the records stored before that line.
     *
     * @return array<string, mixed>
     */
    public function getDetails(): array
    {
        return $this->details;
    }
}
