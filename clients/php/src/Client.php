<?php
declare(strict_types=1);

namespace Mcsync\Client;

use Google\Protobuf\Internal\Message;
use Mcsync\V1;

/**
 * The X-Cart addon's view of mcsync: one method per RPC.
 *
 *     $mcsync = Client::create('http://127.0.0.1:50051', getenv('MCSYNC_TOKEN'));
 *     $settings = $mcsync->connect($apiKey);
 *
 * Every method throws {@see McsyncException} on failure.
 */
final class Client
{
    /** @var Transport */
    private $transport;

    public function __construct(Transport $transport)
    {
        $this->transport = $transport;
    }

    /**
     * @param string $transport "grpc-web" (HTTP/1.1, works everywhere), "h2c" (native gRPC over
     *                          HTTP/2) or "auto" (h2c where curl has HTTP/2)
     * @param array{timeout_ms?: int, connect_timeout_ms?: int, chunk_messages?: int} $options
     */
    public static function create(string $baseUrl, ?string $token = null, string $transport = 'grpc-web', array $options = []): self
    {
        if ($transport === 'auto') {
            $transport = H2cTransport::isSupported() ? 'h2c' : 'grpc-web';
        }
        switch ($transport) {
            case 'grpc-web':
                return new self(new GrpcWebTransport($baseUrl, $token, $options));
            case 'h2c':
                return new self(new H2cTransport($baseUrl, $token, $options));
            default:
                throw new \InvalidArgumentException("unknown transport '$transport' (grpc-web, h2c or auto)");
        }
    }

    // SettingsService ---------------------------------------------------------------------

    /** Checks the key with Mailchimp and stores it with the account. */
    public function connect(string $apiKey): V1\Settings
    {
        return $this->unary('/mcsync.v1.SettingsService/Connect', (new V1\ConnectRequest())->setApiKey($apiKey), V1\Settings::class);
    }

    /** "Reset Mailchimp connection". */
    public function resetConnection(): V1\Settings
    {
        return $this->unary('/mcsync.v1.SettingsService/ResetConnection', new V1\ResetConnectionRequest(), V1\Settings::class);
    }

    public function getSettings(): V1\Settings
    {
        return $this->unary('/mcsync.v1.SettingsService/GetSettings', new V1\GetSettingsRequest(), V1\Settings::class);
    }

    /** Partial update: only the fields set on $update change. */
    public function updateSettings(V1\UpdateSettingsRequest $update): V1\Settings
    {
        return $this->unary('/mcsync.v1.SettingsService/UpdateSettings', $update, V1\Settings::class);
    }

    // ListService -------------------------------------------------------------------------

    public function listLists(): V1\ListListsResponse
    {
        return $this->unary('/mcsync.v1.ListService/ListLists', new V1\ListListsRequest(), V1\ListListsResponse::class);
    }

    public function refreshLists(): V1\ListListsResponse
    {
        return $this->unary('/mcsync.v1.ListService/RefreshLists', new V1\RefreshListsRequest(), V1\ListListsResponse::class);
    }

    /** The "Update" button of E-Commerce features setup. @param string[] $listIds */
    public function selectLists(array $listIds): V1\ListListsResponse
    {
        return $this->unary('/mcsync.v1.ListService/SelectLists', (new V1\SelectListsRequest())->setListIds($listIds), V1\ListListsResponse::class);
    }

    // StoreDataService --------------------------------------------------------------------

    /**
     * Streams records (a generator is fine: they are encoded chunk by chunk as the upload
     * proceeds) and returns the summary once everything accepted is durable.
     *
     * @param iterable<V1\Record> $records
     */
    public function pushRecords(iterable $records): V1\PushSummary
    {
        return $this->single('/mcsync.v1.StoreDataService/PushRecords', $records, V1\PushSummary::class);
    }

    public function upsert(V1\Record $record): V1\UpsertResponse
    {
        return $this->unary('/mcsync.v1.StoreDataService/Upsert', $record, V1\UpsertResponse::class);
    }

    public function delete(int $kind, string $id): void
    {
        $this->unary('/mcsync.v1.StoreDataService/Delete', self::key($kind, $id), V1\DeleteResponse::class);
    }

    public function getRecord(int $kind, string $id): V1\Record
    {
        return $this->unary('/mcsync.v1.StoreDataService/GetRecord', self::key($kind, $id), V1\Record::class);
    }

    public function countRecords(): V1\CountRecordsResponse
    {
        return $this->unary('/mcsync.v1.StoreDataService/CountRecords', new V1\CountRecordsRequest(), V1\CountRecordsResponse::class);
    }

    // Plumbing ----------------------------------------------------------------------------

    /** @param int $kind a {@see V1\RecordKind} constant */
    public static function key(int $kind, string $id): V1\RecordKey
    {
        return (new V1\RecordKey())->setKind($kind)->setId($id);
    }

    /**
     * A server-streaming call: $onMessage receives each decoded message as it arrives.
     *
     * @param class-string<Message> $responseClass
     * @param callable(Message): void $onMessage
     */
    public function stream(string $path, Message $request, string $responseClass, callable $onMessage): void
    {
        $this->transport->call($path, [$request], function (string $bytes) use ($responseClass, $onMessage) {
            $message = new $responseClass();
            $message->mergeFromString($bytes);
            $onMessage($message);
        });
    }

    /** @template T of Message @param class-string<T> $responseClass @return T */
    private function unary(string $path, Message $request, string $responseClass): Message
    {
        return $this->single($path, [$request], $responseClass);
    }

    /** @template T of Message @param class-string<T> $responseClass @return T */
    private function single(string $path, iterable $requests, string $responseClass): Message
    {
        $response = null;
        $this->transport->call($path, $requests, function (string $bytes) use (&$response, $responseClass) {
            $response = new $responseClass();
            $response->mergeFromString($bytes);
        });
        if ($response === null) {
            throw new McsyncException(McsyncException::INTERNAL, "no response message from $path");
        }
        return $response;
    }
}
