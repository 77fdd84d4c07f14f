<?php
declare(strict_types=1);

use Mcsync\Client\Client;
use Mcsync\Client\McsyncException;
use Mcsync\Client\Tests\Processes;
use Mcsync\V1;
use PHPUnit\Framework\TestCase;

/**
 * The seed page's admin flow, end to end against real mcsync and simulator processes, over
 * gRPC-Web (HTTP/1.1) and native gRPC (h2c).
 */
final class AdminFlowTest extends TestCase
{
    /** @var Processes */
    private $procs;

    protected function setUp(): void
    {
        $this->procs = new Processes();
    }

    protected function tearDown(): void
    {
        $this->procs->stop();
    }

    public function transports(): array
    {
        return ['grpc-web' => ['grpc-web'], 'h2c' => ['h2c']];
    }

    private function client(string $transport, ?string $token = Processes::TOKEN): Client
    {
        return Client::create($this->procs->serverUrl, $token, $transport);
    }

    private static function product(int $i): V1\Record
    {
        $variant = (new V1\ProductVariant())->setId("p$i-42")->setTitle('Size 42')->setPrice('129.90')->setInventoryQuantity(5);
        $product = (new V1\Product())->setId("p$i")->setTitle("Boot $i")->setUrl("https://shop.example.com/p$i")->setVariants([$variant]);
        return (new V1\Record())->setProduct($product);
    }

    private static function order(int $i, int $quantity = 1): V1\Record
    {
        $customer = (new V1\OrderCustomer())->setId("c$i")->setEmail("customer$i@example.com");
        $line = (new V1\LineItem())->setId('l1')->setProductId("p$i")->setVariantId("p$i-42")->setQuantity($quantity)->setPrice('129.90');
        $order = (new V1\Order())->setId((string) (100000 + $i))->setCustomer($customer)->setCurrencyCode('USD')
            ->setOrderTotal('129.90')->setLines([$line])->setPaymentStatus(V1\PaymentStatus::PAYMENT_STATUS_PAID)
            ->setPlacedAt('2026-11-20T10:00:00Z');
        return (new V1\Record())->setOrder($order);
    }

    /** @dataProvider transports */
    public function testTheWholeAdminFlow(string $transport): void
    {
        $mcsync = $this->client($transport);

        // Mailchimp settings: connect, with the key shown masked.
        $settings = $mcsync->connect(Processes::KEY_A);
        $this->assertTrue($settings->getConnection()->getConnected());
        $this->assertSame('****************************cdef-us6', $settings->getConnection()->getApiKeyMasked());
        $this->assertTrue($settings->getEcommerceAnalytics(), 'X-Cart default');

        // Adjust settings: only what is set changes.
        $shop = (new V1\ShopIdentityUpdate())->setShopUrl('https://shop.example.com')->setCompanyName('Acme')->setCurrencyCode('usd');
        $settings = $mcsync->updateSettings((new V1\UpdateSettingsRequest())
            ->setAbandonedCarts(true)
            ->setListUpdateInterval(V1\ListUpdateInterval::LIST_UPDATE_INTERVAL_1_HOUR)
            ->setShop($shop));
        $this->assertTrue($settings->getAbandonedCarts());
        $this->assertFalse($settings->getSingleOptIn());
        $this->assertSame('USD', $settings->getShop()->getCurrencyCode());

        // E-Commerce features setup: refresh, tick two lists, Update.
        $lists = $mcsync->refreshLists();
        $this->assertCount(3, $lists->getLists());
        $first = $lists->getLists()[0];
        $this->assertCount(2, $first->getInterestCategories());
        $this->assertCount(2, $first->getSegments());
        $ids = [];
        foreach ($lists->getLists() as $l) {
            $ids[] = $l->getId();
        }
        $selected = $mcsync->selectLists([$ids[0], $ids[2]]);
        $ticked = [];
        foreach ($selected->getLists() as $l) {
            if ($l->getSelected()) {
                $ticked[] = $l->getId();
            }
        }
        sort($ticked);
        $expected = [$ids[0], $ids[2]];
        sort($expected);
        $this->assertSame($expected, $ticked);
        $settings = $mcsync->updateSettings((new V1\UpdateSettingsRequest())->setDefaultAutomationListId($ids[0]));
        $this->assertSame($ids[0], $settings->getDefaultAutomationListId());

        // Push a small shop in one stream, one record bad.
        $shopData = (function () {
            for ($i = 1; $i <= 50; $i++) {
                yield self::product($i);
            }
            for ($i = 1; $i <= 50; $i++) {
                yield self::order($i, $i === 13 ? 0 : 1);
            }
            $coupon = (new V1\Coupon())->setId('k1')->setCode('WELCOME10')->setEnabled(true)
                ->setType(V1\CouponType::COUPON_TYPE_PERCENT)->setValue('10');
            yield (new V1\Record())->setCoupon($coupon);
        })();
        $summary = $mcsync->pushRecords($shopData);
        $this->assertSame(100, (int) $summary->getAccepted());
        $this->assertSame(1, (int) $summary->getRejected());
        $rejection = $summary->getRejections()[0];
        $this->assertSame('order.lines[0].quantity', $rejection->getField());
        $this->assertSame('100013', $rejection->getId());
        $this->assertSame(62, (int) $rejection->getIndex());

        $counts = [];
        foreach ($mcsync->countRecords()->getCounts() as $c) {
            $counts[$c->getKind()] = (int) $c->getCount();
        }
        $this->assertSame(50, $counts[V1\RecordKind::RECORD_KIND_PRODUCT]);
        $this->assertSame(49, $counts[V1\RecordKind::RECORD_KIND_ORDER]);
        $this->assertSame(1, $counts[V1\RecordKind::RECORD_KIND_COUPON]);

        // Records read back as sent (normalised), change detection, delete.
        $coupon = $mcsync->getRecord(V1\RecordKind::RECORD_KIND_COUPON, 'k1')->getCoupon();
        $this->assertSame('10.00', $coupon->getValue());
        $this->assertFalse($mcsync->upsert(self::product(1))->getChanged());
        $mcsync->delete(V1\RecordKind::RECORD_KIND_COUPON, 'k1');
        try {
            $mcsync->getRecord(V1\RecordKind::RECORD_KIND_COUPON, 'k1');
            $this->fail('deleted');
        } catch (McsyncException $e) {
            $this->assertSame(McsyncException::NOT_FOUND, $e->getGrpcCode());
        }

        // The dry run first: what the upload would do, with nothing sent.
        $plan = $mcsync->planUpload();
        $this->assertTrue($plan->getDryRun());
        $this->assertSame('', $plan->getJobId(), 'not a job');
        $creates = 0;
        foreach ($plan->getPlan() as $phase) {
            $creates += (int) $phase->getCreates();
            $this->assertSame(0, (int) $phase->getUpdates());
        }
        $this->assertGreaterThan(0, $creates);
        $this->assertCount(0, $mcsync->listJobs()->getJobs());

        // Upload store data, following the progress message by message.
        $messages = 0;
        $job = $mcsync->uploadStoreData(function (V1\JobProgress $p) use (&$messages) {
            $messages++;
        });
        $this->assertSame(V1\JobState::JOB_STATE_SUCCEEDED, $job->getState(), $job->getMessage());
        $this->assertGreaterThanOrEqual(2, $messages, 'a first message and a final one');
        $this->assertEqualsWithDelta(100.0, $job->getPercent(), 0.001);
        $this->assertSame($job->getJobId(), $mcsync->listJobs()->getJobs()[0]->getJobId());
        $again = $mcsync->watchJob($job->getJobId());
        $this->assertSame(V1\JobState::JOB_STATE_SUCCEEDED, $again->getState(), 'a finished job answers once');
        $this->assertSame($job->getJobId(), $mcsync->getJob($job->getJobId())->getJobId());
        $this->assertSame(V1\JobState::JOB_STATE_SUCCEEDED, $mcsync->cancelJob($job->getJobId())->getState(), 'nothing to cancel');

        // The same upload through POST /batches: nothing changed, so every record is skipped.
        $batched = $mcsync->uploadStoreData(null, V1\UploadMode::UPLOAD_MODE_BATCH);
        $this->assertSame(V1\JobState::JOB_STATE_SUCCEEDED, $batched->getState(), $batched->getMessage());
        $this->assertSame(V1\UploadMode::UPLOAD_MODE_BATCH, $batched->getMode());
        foreach ($batched->getPhases() as $phase) {
            $this->assertSame(0, (int) $phase->getDone());
        }
        $this->assertCount(2, $batched->getReconciliations(), 'each store reconciled first');
        foreach ($mcsync->planUpload()->getPlan() as $phase) {
            $this->assertSame(0, (int) ($phase->getCreates() + $phase->getUpdates() + $phase->getDeletes()));
        }

        // Sync status and the (empty) error list.
        $status = $mcsync->getSyncStatus();
        $this->assertCount(2, $status->getStores());
        $this->assertFalse($status->getStores()[0]->getIsSyncing());
        $this->assertSame($batched->getJobId(), $status->getLastJob()->getJobId());
        $this->assertSame(0, (int) $mcsync->listSyncErrors()->getTotal());
        $this->assertSame(0, (int) $mcsync->retryFailed()->getRetried());

        // startUpload() answers with the first message and leaves the job running on.
        $started = $mcsync->startUpload(V1\UploadMode::UPLOAD_MODE_DIRECT);
        $this->assertNotSame('', $started->getJobId());
        $this->assertNotSame($batched->getJobId(), $started->getJobId(), 'a new job');
        $followed = $mcsync->watchJob($started->getJobId());
        $this->assertSame(V1\JobState::JOB_STATE_SUCCEEDED, $followed->getState(), 'the job ran to its end without the caller');

        // Update store data: one result per selected list.
        $results = $mcsync->updateStoreData()->getStores();
        $this->assertCount(2, $results);
        foreach ($results as $r) {
            $this->assertTrue($r->getOk(), $r->getError());
        }

        // A newsletter subscription from the shop's form, applied in the background.
        $answer = $mcsync->subscribe('reader@example.com', [$ids[0]], 'Urist', 'McReader');
        $this->assertSame('subscribed', $answer->getLists()[0]->getWanted());
        $deadline = microtime(true) + 15;
        do {
            $state = $mcsync->getSubscriptions('reader@example.com')->getLists()[0]->getState();
            if ($state === V1\SubscriptionState::SUBSCRIPTION_STATE_APPLIED) {
                break;
            }
            usleep(50_000);
        } while (microtime(true) < $deadline);
        $this->assertSame(V1\SubscriptionState::SUBSCRIPTION_STATE_APPLIED, $state);
        try {
            $mcsync->subscribe('not an email', [$ids[0]]);
            $this->fail('a bad email is refused');
        } catch (McsyncException $e) {
            $this->assertSame(McsyncException::INVALID_ARGUMENT, $e->getGrpcCode());
            $this->assertArrayHasKey('email', $e->getFieldViolations());
        }
        $this->assertSame('unsubscribed', $mcsync->unsubscribe('reader@example.com')->getLists()[0]->getWanted());

        // A list unselected: its store is detached, and removed only when asked.
        $detached = $mcsync->selectLists([$ids[0]])->getDetachedStores();
        $this->assertCount(1, $detached);
        $removed = $mcsync->removeStore($detached[0]->getStoreId());
        $this->assertSame($ids[2], $removed->getListId());
        $this->assertCount(0, $mcsync->listLists()->getDetachedStores());

        // Reset Mailchimp connection.
        $this->assertFalse($mcsync->resetConnection()->getConnection()->getConnected());
    }

    /** @dataProvider transports */
    public function testKeysMailchimpRejectsOrThatAreMalformed(string $transport): void
    {
        $mcsync = $this->client($transport);
        foreach ([
            [Processes::KEY_UNKNOWN, McsyncException::UNAUTHENTICATED, 'API Key Invalid'],
            [Processes::KEY_DISABLED, McsyncException::PERMISSION_DENIED, 'disabled'],
            ['not-a-key', McsyncException::INVALID_ARGUMENT, 'api_key'],
        ] as [$key, $code, $words]) {
            try {
                $mcsync->connect($key);
                $this->fail("connect($key) succeeded");
            } catch (McsyncException $e) {
                $this->assertSame($code, $e->getGrpcCode(), $e->getMessage());
                $this->assertStringContainsString($words, $e->getGrpcMessage());
            }
        }
        try {
            $mcsync->connect('not-a-key');
        } catch (McsyncException $e) {
            $this->assertArrayHasKey('api_key', $e->getFieldViolations());
        }
        $this->assertFalse($mcsync->getSettings()->getConnection()->getConnected(), 'nothing stored');
    }

    /** @dataProvider transports */
    public function testABadTokenIsUnauthenticated(string $transport): void
    {
        foreach (['wrong-token', null] as $token) {
            try {
                $this->client($transport, $token)->getSettings();
                $this->fail('accepted a bad token');
            } catch (McsyncException $e) {
                $this->assertSame(McsyncException::UNAUTHENTICATED, $e->getGrpcCode(), $e->getMessage());
            }
        }
    }

    /** @dataProvider transports */
    public function testAnInvalidRecordNamesItsFields(string $transport): void
    {
        $order = self::order(1, 0);
        $order->getOrder()->setCurrencyCode('DOLLARS');
        try {
            $this->client($transport)->upsert($order);
            $this->fail('accepted an invalid order');
        } catch (McsyncException $e) {
            $this->assertSame(McsyncException::INVALID_ARGUMENT, $e->getGrpcCode());
            $violations = $e->getFieldViolations();
            $this->assertArrayHasKey('order.currency_code', $violations);
            $this->assertArrayHasKey('order.lines[0].quantity', $violations);
        }
        $settings = (new V1\UpdateSettingsRequest())->setShop((new V1\ShopIdentityUpdate())->setEmail('owner@'));
        try {
            $this->client($transport)->updateSettings($settings);
            $this->fail('accepted an invalid email');
        } catch (McsyncException $e) {
            $this->assertSame(['shop.email'], array_keys($e->getFieldViolations()));
        }
    }

    /** @dataProvider transports */
    public function testARecoveryLinkThatIsNotTheShopsIsRefusedByItsToken(string $transport): void
    {
        try {
            $this->client($transport)->recoverCart('bm90IGEgdG9rZW4gb2Ygb3Vycw');
            $this->fail('recovered a cart from a made-up token');
        } catch (McsyncException $e) {
            $this->assertSame(McsyncException::INVALID_ARGUMENT, $e->getGrpcCode());
            $this->assertSame(['token'], array_keys($e->getFieldViolations()));
        }
    }

    /** @dataProvider transports */
    public function testALargePushIsStreamedNotBuffered(string $transport): void
    {
        $mcsync = Client::create($this->procs->serverUrl, Processes::TOKEN, $transport, ['chunk_messages' => 200]);
        $before = memory_get_usage();
        $peak = 0;
        $records = (function () use (&$peak) {
            for ($i = 0; $i < 20000; $i++) {
                $peak = max($peak, memory_get_usage());
                yield self::product($i);
            }
        })();
        $summary = $mcsync->pushRecords($records);
        $this->assertSame(20000, (int) $summary->getAccepted());
        // 20,000 encoded records are ~1.5 MB, their objects far more; a chunked upload holds
        // only a chunk at a time.
        $this->assertLessThan(4 * 1024 * 1024, $peak - $before, 'memory grew with the stream');
    }

    public function testAnUnreachableServerIsUnavailable(): void
    {
        $port = $this->freePort();
        try {
            Client::create("http://127.0.0.1:$port", Processes::TOKEN, 'grpc-web', ['connect_timeout_ms' => 2000])->getSettings();
            $this->fail('reached a closed port');
        } catch (McsyncException $e) {
            $this->assertSame(McsyncException::UNAVAILABLE, $e->getGrpcCode());
        }
    }

    private function freePort(): int
    {
        $s = stream_socket_server('tcp://127.0.0.1:0');
        $name = stream_socket_get_name($s, false);
        fclose($s);
        return (int) substr($name, strrpos($name, ':') + 1);
    }
}
