<?php
declare(strict_types=1);

use Mcsync\Client\Client;
use Mcsync\Client\McsyncException;
use Mcsync\Client\Tests\Processes;
use Mcsync\V1;
use PHPUnit\Framework\TestCase;

/**
 * Deadlines: a long upload is watched to its end although it takes far longer than the unary
 * deadline (streaming calls have none by default), and a caller's own deadline cuts a call.
 */
final class DeadlineTest extends TestCase
{
    /** @var Processes */
    private $procs;

    protected function setUp(): void
    {
        // 100 ms per Mailchimp request: an upload of a few hundred records takes seconds.
        $this->procs = new Processes(false, 100);
    }

    protected function tearDown(): void
    {
        $this->procs->stop();
    }

    public function testALongUploadOutlivesTheUnaryDeadlineAndACallersDeadlineCutsACall(): void
    {
        $mcsync = Client::create($this->procs->serverUrl, Processes::TOKEN, 'grpc-web', ['timeout_ms' => 2000]);
        $mcsync->connect(Processes::KEY_A);
        // Reading three audiences at 100 ms a request takes longer than that: given more time.
        $lists = $mcsync->withDeadline(20000)->refreshLists()->getLists();
        $mcsync->selectLists([$lists[0]->getId()]);
        $mcsync->updateSettings((new V1\UpdateSettingsRequest())->setShop(
            (new V1\ShopIdentityUpdate())->setShopUrl('https://shop.example.com')->setCompanyName('Acme')->setCurrencyCode('USD')
        ));
        $records = (function () {
            for ($i = 0; $i < 300; $i++) {
                $product = (new V1\Product())->setId("p$i")->setTitle("Boot $i")->setUrl("https://shop.example.com/p$i")
                    ->setPrice('10.00')->setSku("sku-$i");
                yield (new V1\Record())->setProduct($product);
            }
        })();
        $this->assertSame(300, (int) $mcsync->pushRecords($records)->getAccepted());

        $started = microtime(true);
        $job = $mcsync->uploadStoreData(null, V1\UploadMode::UPLOAD_MODE_DIRECT);
        $took = microtime(true) - $started;
        $this->assertSame(V1\JobState::JOB_STATE_SUCCEEDED, $job->getState(), $job->getMessage());
        $this->assertGreaterThan(2.0, $took, 'the upload took longer than the unary deadline');

        try {
            $mcsync->withDeadline(150)->refreshLists();
            $this->fail('a refresh of three audiences at 100 ms a request fits no 150 ms deadline');
        } catch (McsyncException $e) {
            $this->assertSame(McsyncException::DEADLINE_EXCEEDED, $e->getGrpcCode(), $e->getMessage());
        }
        $this->assertCount(3, $mcsync->withDeadline(0)->listLists()->getLists(), 'no deadline');
    }
}
