<?php
declare(strict_types=1);

namespace Mcsync\Client;

use Google\Protobuf\Internal\Message;
use Mcsync\V1;

/**
 * The X-Cart addon's view of mcsync: one method per RPC (SettingsService, ListService,
 * StoreDataService, SyncService, SubscriptionService, MemberEventsService).
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
    /** @var int|null the deadline of every call, in ms; null for the transport's defaults */
    private $deadlineMs;
    /** @var JsonFeed|null */
    private $json;

    /** $json serves pushRecordsJson and upsertJson; Client::create gives every client one. */
    public function __construct(Transport $transport, ?JsonFeed $json = null)
    {
        $this->transport = $transport;
        $this->json = $json;
    }

    /**
     * The same client with a deadline for its calls, in ms (0: none), e.g.
     * `$mcsync->withDeadline(5000)->getSettings()`. By default a unary call has the transport's
     * `timeout_ms` (30 s) and a streaming call (pushRecords, uploadStoreData, watchJob) none.
     */
    public function withDeadline(int $ms): self
    {
        $copy = clone $this;
        $copy->deadlineMs = max(0, $ms);
        return $copy;
    }

    /**
     * @param string $transport "grpc-web" (HTTP/1.1, works everywhere), "h2c" (native gRPC over
     *                          HTTP/2) or "auto" (h2c where curl has HTTP/2)
     * @param array{timeout_ms?: int, stream_timeout_ms?: int, stall_ms?: int, connect_timeout_ms?: int, chunk_messages?: int, ca_file?: string} $options
     *        see {@see CurlTransport::__construct}
     */
    public static function create(string $baseUrl, ?string $token = null, string $transport = 'grpc-web', array $options = []): self
    {
        if ($transport === 'auto') {
            $transport = H2cTransport::isSupported() ? 'h2c' : 'grpc-web';
        }
        switch ($transport) {
            case 'grpc-web':
                return new self(new GrpcWebTransport($baseUrl, $token, $options), new JsonFeed($baseUrl, $token, $options));
            case 'h2c':
                return new self(new H2cTransport($baseUrl, $token, $options), new JsonFeed($baseUrl, $token, $options));
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

    /**
     * The merge-field maps, replacing every one: list id => [source => merge tag], sources
     * being first_name, last_name, company, phone, birthday, address or attributes.<key>
     * (Customer::setAttributes). An audience left out has none; [] clears them all.
     *
     * @param array<string, array<string, string>> $maps
     */
    public function setMergeFields(array $maps): V1\Settings
    {
        $audiences = [];
        foreach ($maps as $listId => $pairs) {
            $mappings = [];
            foreach ($pairs as $source => $tag) {
                $mappings[] = (new V1\MergeFieldMapping())->setSource((string) $source)->setTag($tag);
            }
            $audiences[] = (new V1\MergeFieldMap())->setListId((string) $listId)->setMappings($mappings);
        }
        $maps = (new V1\MergeFieldMaps())->setAudiences($audiences);
        return $this->updateSettings((new V1\UpdateSettingsRequest())->setMergeFields($maps));
    }

    /**
     * "Connect with Mailchimp", step 1: where to send the merchant ($redirectUri is the page
     * Mailchimp sends them back to, with `code` and `state` in its query).
     */
    public function beginOAuth(string $redirectUri): V1\BeginOAuthResponse
    {
        $request = (new V1\BeginOAuthRequest())->setRedirectUri($redirectUri);
        return $this->unary('/mcsync.v1.SettingsService/BeginOAuth', $request, V1\BeginOAuthResponse::class);
    }

    /** Step 2: the `code` and `state` Mailchimp sent back; connects the account. */
    public function completeOAuth(string $code, string $state): V1\Settings
    {
        $request = (new V1\CompleteOAuthRequest())->setCode($code)->setState($state);
        return $this->unary('/mcsync.v1.SettingsService/CompleteOAuth', $request, V1\Settings::class);
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

    /**
     * The bulk feed at json_encode's speed: records as arrays in the proto3 JSON mapping, one
     * kind key each (`['product' => ['id' => 'p1', 'title' => 'Mug', 'price' => '9.50']]`,
     * `['delete' => ['kind' => 'RECORD_KIND_PRODUCT', 'id' => 'p1']]`; see README.md). Pass a
     * generator to keep memory flat. Returns the summary as an array: accepted, unchanged,
     * deleted, rejected, rejections (each with its `line`, from 1), not_found_count,
     * not_found.
     *
     * @param iterable<array<string, mixed>> $records
     * @return array<string, mixed>
     */
    public function pushRecordsJson(iterable $records): array
    {
        return $this->json()->push($records);
    }

    /**
     * One change as it happens, as an array (see pushRecordsJson). Returns whether anything
     * changed.
     *
     * @param array<string, mixed> $record
     */
    public function upsertJson(array $record): bool
    {
        return $this->json()->upsert($record);
    }

    private function json(): JsonFeed
    {
        if ($this->json === null) {
            throw new \LogicException('this client has no JSON feed: create it with Client::create, or pass a JsonFeed');
        }
        return $this->json;
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

    /**
     * The cart an abandoned-cart email's recovery link names: pass the link's `mcsync_cart`
     * parameter as the page received it. Throws McsyncException: INVALID_ARGUMENT (field
     * `token`) for a link that is not this shop's, FAILED_PRECONDITION when the cart has become
     * an order, NOT_FOUND when the shop deleted it.
     */
    public function recoverCart(string $token): V1\RecoverCartResponse
    {
        return $this->unary('/mcsync.v1.StoreDataService/RecoverCart', (new V1\RecoverCartRequest())->setToken($token), V1\RecoverCartResponse::class);
    }

    public function countRecords(): V1\CountRecordsResponse
    {
        return $this->unary('/mcsync.v1.StoreDataService/CountRecords', new V1\CountRecordsRequest(), V1\CountRecordsResponse::class);
    }

    // SyncService -------------------------------------------------------------------------

    /**
     * "Upload store data to Mailchimp": starts the upload job (or joins the running one) and
     * calls $onProgress with each JobProgress as it arrives (at least every 500 ms while the job
     * runs), then returns the last one. Disconnecting does not stop the job: watchJob() resumes.
     * $mode is a V1\UploadMode: AUTO (batches for large phases), DIRECT or BATCH; joining the
     * running job keeps its mode.
     *
     * @param callable(V1\JobProgress): void|null $onProgress
     */
    public function uploadStoreData(?callable $onProgress = null, int $mode = V1\UploadMode::UPLOAD_MODE_AUTO, bool $resync = false): V1\JobProgress
    {
        $request = (new V1\UploadRequest())->setMode($mode)->setResync($resync);
        return $this->follow('/mcsync.v1.SyncService/UploadStoreData', $request, $onProgress);
    }

    /**
     * Starts the upload job (or joins the running one) and returns its first progress, without
     * waiting for the end: for a web page, which answers at once and then follows the job with
     * getJob() (the job runs on; disconnecting does not stop it).
     */
    public function startUpload(int $mode = V1\UploadMode::UPLOAD_MODE_AUTO, bool $resync = false): V1\JobProgress
    {
        $request = (new V1\UploadRequest())->setMode($mode)->setResync($resync);
        $first = null;
        try {
            $this->stream('/mcsync.v1.SyncService/UploadStoreData', $request, V1\JobProgress::class, function (V1\JobProgress $p) use (&$first) {
                $first = $p;
                throw new StreamStopped();
            });
        } catch (StreamStopped $e) {
            // Left on purpose after the first message.
        }
        if ($first === null) {
            throw new McsyncException(McsyncException::INTERNAL, 'no progress from UploadStoreData');
        }
        return $first;
    }

    /**
     * What "Upload store data" would do, without doing it: per store, what reconciling found
     * (getReconciliations) and the creates, updates, deletes and unchanged per kind (getPlan).
     */
    public function planUpload(int $mode = V1\UploadMode::UPLOAD_MODE_AUTO): V1\JobProgress
    {
        $request = (new V1\UploadRequest())->setMode($mode)->setDryRun(true);
        return $this->follow('/mcsync.v1.SyncService/UploadStoreData', $request, null);
    }

    /** Follows a job to its end. @param callable(V1\JobProgress): void|null $onProgress */
    public function watchJob(string $jobId, ?callable $onProgress = null): V1\JobProgress
    {
        return $this->follow('/mcsync.v1.SyncService/WatchJob', (new V1\WatchJobRequest())->setJobId($jobId), $onProgress);
    }

    public function getJob(string $jobId): V1\JobProgress
    {
        return $this->unary('/mcsync.v1.SyncService/GetJob', (new V1\GetJobRequest())->setJobId($jobId), V1\JobProgress::class);
    }

    /**
     * Deletes a detached store (its list is no longer selected; see the detached stores of
     * selectLists() and listLists()) from Mailchimp. mcsync never removes a store by itself.
     */
    public function removeStore(string $storeId): V1\RemoveStoreResponse
    {
        $request = (new V1\RemoveStoreRequest())->setStoreId($storeId);
        return $this->unary('/mcsync.v1.SyncService/RemoveStore', $request, V1\RemoveStoreResponse::class);
    }

    public function listJobs(): V1\ListJobsResponse
    {
        return $this->unary('/mcsync.v1.SyncService/ListJobs', new V1\ListJobsRequest(), V1\ListJobsResponse::class);
    }

    public function cancelJob(string $jobId): V1\JobProgress
    {
        return $this->unary('/mcsync.v1.SyncService/CancelJob', (new V1\CancelJobRequest())->setJobId($jobId), V1\JobProgress::class);
    }

    /** "Update store data": the company details to every store, a result per store. */
    public function updateStoreData(): V1\UpdateStoreDataResponse
    {
        return $this->unary('/mcsync.v1.SyncService/UpdateStoreData', new V1\UpdateStoreDataRequest(), V1\UpdateStoreDataResponse::class);
    }

    /**
     * Asks Mailchimp to check that the storefront prints each store's site script
     * (getSettings()->getSiteScripts()); a result per store.
     */
    public function verifySiteScript(): V1\VerifySiteScriptResponse
    {
        return $this->unary('/mcsync.v1.SyncService/VerifySiteScript', new V1\VerifySiteScriptRequest(), V1\VerifySiteScriptResponse::class);
    }

    /** Per store and kind: in the mirror, in sync, pending, failed; is_syncing; the last job. */
    public function getSyncStatus(): V1\SyncStatus
    {
        return $this->unary('/mcsync.v1.SyncService/GetSyncStatus', new V1\GetSyncStatusRequest(), V1\SyncStatus::class);
    }

    /** Records Mailchimp refused, page by page (page size 1..1000, 50 by default). */
    public function listSyncErrors(int $pageSize = 50, int $offset = 0): V1\ListSyncErrorsResponse
    {
        $request = (new V1\ListSyncErrorsRequest())->setPageSize($pageSize)->setOffset($offset);
        return $this->unary('/mcsync.v1.SyncService/ListSyncErrors', $request, V1\ListSyncErrorsResponse::class);
    }

    /** Sends every refused record again. */
    public function retryFailed(): V1\RetryFailedResponse
    {
        return $this->unary('/mcsync.v1.SyncService/RetryFailed', new V1\RetryFailedRequest(), V1\RetryFailedResponse::class);
    }

    // SubscriptionService ------------------------------------------------------------------

    /**
     * The shop's newsletter form: subscribes $email to $listIds (selected lists) with the
     * merchant's opt-in rules. Answers once the request is stored; mcsync applies it to
     * Mailchimp in the background (getSubscriptions() shows when it has).
     *
     * $marketingPermissions: the shopper's GDPR answers, marketing permission id => agreed
     * (true) or declined (false), for the permissions of those lists shown to them
     * (getSettings()->getMarketingPermissions()). They are kept as each list's consent record.
     *
     * @param string[] $listIds
     * @param string[] $interestIds
     * @param array<string, bool> $marketingPermissions
     */
    public function subscribe(string $email, array $listIds, string $firstName = '', string $lastName = '', array $interestIds = [], array $marketingPermissions = []): V1\SubscriptionsResponse
    {
        $answers = [];
        foreach ($marketingPermissions as $id => $enabled) {
            $answers[] = (new V1\MarketingPermissionChoice())
                ->setMarketingPermissionId((string) $id)
                ->setEnabled((bool) $enabled);
        }
        $request = (new V1\SubscribeRequest())
            ->setEmail($email)
            ->setListIds($listIds)
            ->setFirstName($firstName)
            ->setLastName($lastName)
            ->setInterestIds($interestIds)
            ->setMarketingPermissions($answers);
        return $this->unary('/mcsync.v1.SubscriptionService/Subscribe', $request, V1\SubscriptionsResponse::class);
    }

    /** @param string[] $listIds empty: every selected list */
    public function unsubscribe(string $email, array $listIds = []): V1\SubscriptionsResponse
    {
        $request = (new V1\UnsubscribeRequest())->setEmail($email)->setListIds($listIds);
        return $this->unary('/mcsync.v1.SubscriptionService/Unsubscribe', $request, V1\SubscriptionsResponse::class);
    }

    /** Where $email stands on every selected list. */
    public function getSubscriptions(string $email): V1\SubscriptionsResponse
    {
        $request = (new V1\GetSubscriptionsRequest())->setEmail($email);
        return $this->unary('/mcsync.v1.SubscriptionService/GetSubscriptions', $request, V1\SubscriptionsResponse::class);
    }

    // MemberEventsService ------------------------------------------------------------------

    /**
     * What Mailchimp's webhooks said (unsubscribes, cleans, profile and email changes) after
     * $afterSequence, oldest first, then each new event as it arrives: $onEvent gets each. The
     * call does not end by itself (no deadline by default); store the last sequence handled
     * and pass it when reconnecting, and nothing is missed.
     *
     * @param callable(V1\MemberEvent): void $onEvent
     */
    public function watchMemberEvents(int $afterSequence, callable $onEvent): void
    {
        $request = (new V1\WatchMemberEventsRequest())->setAfterSequence($afterSequence);
        $this->stream('/mcsync.v1.MemberEventsService/WatchMemberEvents', $request, V1\MemberEvent::class, $onEvent);
    }

    /** A page of events after $afterSequence (for a cron job): at most $limit (1..1000). */
    public function listMemberEvents(int $afterSequence = 0, int $limit = 100): V1\ListMemberEventsResponse
    {
        $request = (new V1\ListMemberEventsRequest())->setAfterSequence($afterSequence)->setLimit($limit);
        return $this->unary('/mcsync.v1.MemberEventsService/ListMemberEvents', $request, V1\ListMemberEventsResponse::class);
    }

    // Plumbing ----------------------------------------------------------------------------

    private function follow(string $path, Message $request, ?callable $onProgress): V1\JobProgress
    {
        $last = null;
        $this->stream($path, $request, V1\JobProgress::class, function (V1\JobProgress $p) use (&$last, $onProgress) {
            $last = $p;
            if ($onProgress !== null) {
                $onProgress($p);
            }
        });
        if ($last === null) {
            throw new McsyncException(McsyncException::INTERNAL, "no progress from $path");
        }
        return $last;
    }


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
        }, $this->deadlineMs, true);
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
        // A request stream of unknown length (pushRecords) is a streaming call.
        $this->transport->call($path, $requests, function (string $bytes) use (&$response, $responseClass) {
            $response = new $responseClass();
            $response->mergeFromString($bytes);
        }, $this->deadlineMs, !is_array($requests));
        if ($response === null) {
            throw new McsyncException(McsyncException::INTERNAL, "no response message from $path");
        }
        return $response;
    }
}
