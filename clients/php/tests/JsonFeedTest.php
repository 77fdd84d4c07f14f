<?php
declare(strict_types=1);

use Mcsync\Client\Client;
use Mcsync\Client\McsyncException;
use Mcsync\Client\Tests\Processes;
use Mcsync\V1;
use PHPUnit\Framework\TestCase;

/**
 * The JSON feed from PHP: records as the arrays X-Cart builds from its rows, pushed from a
 * generator and upserted one by one, from a client of either transport (the JSON feed itself
 * is HTTP/1.1 for both), read back through gRPC.
 */
final class JsonFeedTest extends TestCase
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

    /** A shop's rows as arrays, one of each kind, NULL columns and empty lists included. */
    private static function shop(int $n): \Generator
    {
        for ($i = 1; $i <= $n; $i++) {
            yield ['product' => [
                'id' => "p$i", 'title' => "Mug $i", 'price' => '9.50', 'vendor' => null,
                'images' => [], 'variants' => [['id' => "v$i", 'title' => 'Red', 'price' => '9.50', 'inventory_quantity' => 3]],
            ]];
            yield ['customer' => [
                'id' => "c$i", 'email' => "buyer$i@example.com", 'first_name' => 'Ada', 'last_name' => null,
                'attributes' => [], 'accepts_marketing' => false,
            ]];
            yield ['order' => [
                'id' => "o$i", 'customer' => ['id' => "c$i", 'email' => "buyer$i@example.com"],
                'currency_code' => 'USD', 'order_total' => '19.00', 'placed_at' => '2026-11-26T15:30:00Z',
                'lines' => [['id' => "o$i-1", 'product_id' => "p$i", 'variant_id' => "v$i", 'quantity' => 2, 'price' => '9.50']],
            ]];
        }
    }

    /** @dataProvider transports */
    public function testAGeneratorOfArraysIsStoredAsTheObjectFeedWouldStoreIt(string $transport): void
    {
        $mcsync = Client::create($this->procs->serverUrl, Processes::TOKEN, $transport);
        $summary = $mcsync->pushRecordsJson(self::shop(700));
        $this->assertSame(2100, $summary['accepted'], json_encode($summary));
        $this->assertSame(0, $summary['rejected']);

        $order = $mcsync->getRecord(V1\RecordKind::RECORD_KIND_ORDER, 'o7')->getOrder();
        $this->assertSame(2, $order->getLines()[0]->getQuantity());
        $this->assertSame('USD', $order->getCurrencyCode());

        // The same product as an object through gRPC changes nothing: stored byte-equal.
        $variant = (new V1\ProductVariant())->setId('v1')->setTitle('Red')->setPrice('9.50')->setInventoryQuantity(3);
        $product = (new V1\Product())->setId('p1')->setTitle('Mug 1')->setPrice('9.50')->setVariants([$variant]);
        $this->assertFalse($mcsync->upsert((new V1\Record())->setProduct($product))->getChanged());
        $this->assertSame(2100, $mcsync->pushRecordsJson(self::shop(700))['unchanged']);
    }

    /** @dataProvider transports */
    public function testRejectionsNameTheirLineAndAMalformedLineStopsThePushThere(string $transport): void
    {
        $mcsync = Client::create($this->procs->serverUrl, Processes::TOKEN, $transport);
        $summary = $mcsync->pushRecordsJson([
            ['product' => ['id' => 'p1', 'title' => 'Mug']],
            ['product' => ['id' => 'p2', 'title' => '']],
        ]);
        $this->assertSame(1, $summary['rejected']);
        $this->assertSame(2, $summary['rejections'][0]['line']);
        $this->assertSame('product.title', $summary['rejections'][0]['field']);

        try {
            $mcsync->pushRecordsJson((function () {
                yield ['product' => ['id' => 'p3', 'title' => 'Mug']];
                yield ['product' => ['id' => 'p4', 'title' => 'Mug', 'price' => 9.5]];
                for ($i = 0; $i < 50000; $i++) {
                    yield ['product' => ['id' => "q$i", 'title' => 'Mug']];
                }
            })());
            $this->fail('a price as a number is not a record');
        } catch (McsyncException $e) {
            $this->assertSame(McsyncException::INVALID_ARGUMENT, $e->getGrpcCode());
            $this->assertSame(2, $e->getDetails()['line']);
            $this->assertArrayHasKey('product.price', $e->getFieldViolations());
            $this->assertSame(1, $e->getDetails()['summary']['accepted']);
        }
        $mcsync->getRecord(V1\RecordKind::RECORD_KIND_PRODUCT, 'p3');
        try {
            $mcsync->getRecord(V1\RecordKind::RECORD_KIND_PRODUCT, 'q49999');
            $this->fail('nothing after the malformed line is stored');
        } catch (McsyncException $e) {
            $this->assertSame(McsyncException::NOT_FOUND, $e->getGrpcCode());
        }
    }

    /** @dataProvider transports */
    public function testUpsertJsonAnswersAsUpsertDoes(string $transport): void
    {
        $mcsync = Client::create($this->procs->serverUrl, Processes::TOKEN, $transport);
        $record = ['customer' => ['id' => 'c1', 'email' => 'ada@example.com', 'first_name' => 'Ada']];
        $this->assertTrue($mcsync->upsertJson($record));
        $this->assertFalse($mcsync->upsertJson($record));
        try {
            $mcsync->upsertJson(['customer' => ['id' => 'c2', 'email' => 'not-an-email']]);
            $this->fail('a bad email is refused');
        } catch (McsyncException $e) {
            $this->assertSame(McsyncException::INVALID_ARGUMENT, $e->getGrpcCode());
            $this->assertArrayHasKey('customer.email', $e->getFieldViolations());
        }
        try {
            $mcsync->upsertJson(['delete' => ['kind' => 'RECORD_KIND_CUSTOMER', 'id' => 'nobody']]);
            $this->fail('deleting an unknown record is NOT_FOUND');
        } catch (McsyncException $e) {
            $this->assertSame(McsyncException::NOT_FOUND, $e->getGrpcCode());
        }
        $this->assertTrue($mcsync->upsertJson(['delete' => ['kind' => 'RECORD_KIND_CUSTOMER', 'id' => 'c1']]));

        $wrongToken = Client::create($this->procs->serverUrl, 'not-the-token', $transport);
        try {
            $wrongToken->upsertJson($record);
            $this->fail('a wrong token is refused');
        } catch (McsyncException $e) {
            $this->assertSame(McsyncException::UNAUTHENTICATED, $e->getGrpcCode());
        }
    }

    public function testARecordPhpCannotEncodeStopsThePushWithItsPlace(): void
    {
        $mcsync = Client::create($this->procs->serverUrl, Processes::TOKEN);
        try {
            $mcsync->pushRecordsJson([
                ['product' => ['id' => 'p1', 'title' => 'Mug']],
                ['product' => ['id' => 'p2', 'title' => "Mug \xB1"]],
            ]);
            $this->fail('invalid UTF-8 cannot be JSON');
        } catch (McsyncException $e) {
            $this->assertSame(McsyncException::INVALID_ARGUMENT, $e->getGrpcCode());
            $this->assertStringContainsString('record 2', $e->getGrpcMessage());
            $this->assertSame(2, $e->getDetails()['line']);
            $this->assertSame(1, $e->getDetails()['summary']['accepted']);
        }
        $mcsync->getRecord(V1\RecordKind::RECORD_KIND_PRODUCT, 'p1');
    }
}
