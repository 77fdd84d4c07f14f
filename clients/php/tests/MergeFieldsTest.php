<?php
declare(strict_types=1);

use Mcsync\Client\Client;
use Mcsync\Client\McsyncException;
use Mcsync\Client\Tests\Processes;
use Mcsync\V1;
use PHPUnit\Framework\TestCase;

/**
 * The shop maps its customer fields to the audience's merge fields; a customer's phone and
 * birthday reach its member in Mailchimp, over gRPC-Web and over h2c.
 */
final class MergeFieldsTest extends TestCase
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

    /** The member as Mailchimp (the simulator) has it. */
    private function member(string $listId, string $email): array
    {
        $ch = curl_init($this->procs->simUrl . "/lists/$listId/members/" . md5(strtolower($email)));
        curl_setopt_array($ch, [CURLOPT_USERPWD => 'x:' . Processes::KEY_A, CURLOPT_RETURNTRANSFER => true]);
        $body = (string) curl_exec($ch);
        curl_close($ch);
        return json_decode($body, true) ?: [];
    }

    /** @dataProvider transports */
    public function testACustomersMappedFieldsReachItsMember(string $transport): void
    {
        $mcsync = Client::create($this->procs->serverUrl, Processes::TOKEN, $transport);
        $mcsync->connect(Processes::KEY_A);
        $lists = $mcsync->refreshLists()->getLists();
        $listId = $lists[0]->getId();
        $tags = [];
        foreach ($lists[0]->getMergeFields() as $f) {
            $tags[$f->getTag()] = $f->getType();
        }
        $this->assertSame('birthday', $tags['BIRTHDAY']);
        $mcsync->selectLists([$listId]);
        $shop = (new V1\ShopIdentityUpdate())->setShopUrl('https://shop.example.com')->setCompanyName('Acme')->setCurrencyCode('USD');
        $mcsync->updateSettings((new V1\UpdateSettingsRequest())->setShop($shop));

        try {
            $mcsync->setMergeFields([$listId => ['address' => 'PHONE']]);
            $this->fail('an address does not go to a phone field');
        } catch (McsyncException $e) {
            $this->assertSame(McsyncException::INVALID_ARGUMENT, $e->getGrpcCode());
            $this->assertArrayHasKey('merge_fields.audiences[0].mappings[0].tag', $e->getFieldViolations());
        }
        $settings = $mcsync->setMergeFields([$listId => ['phone' => 'PHONE', 'birthday' => 'BIRTHDAY']]);
        $this->assertCount(2, $settings->getMergeFields()[0]->getMappings());

        $customer = (new V1\Customer())->setId('c1')->setEmail('ada@example.com')->setFirstName('Ada')
            ->setPhone('555-0100')->setBirthday('1990-07-04')->setAttributes(['tier' => 'gold']);
        $mcsync->upsert((new V1\Record())->setCustomer($customer));
        $job = $mcsync->uploadStoreData();
        $this->assertSame(V1\JobState::JOB_STATE_SUCCEEDED, $job->getState(), $job->getMessage());

        $deadline = microtime(true) + 20;
        do {
            $merge = $this->member($listId, 'ada@example.com')['merge_fields'] ?? [];
            if (($merge['PHONE'] ?? '') === '555-0100') {
                break;
            }
            usleep(100_000);
        } while (microtime(true) < $deadline);
        $this->assertSame('555-0100', $merge['PHONE'] ?? null);
        $this->assertSame('07/04', $merge['BIRTHDAY'] ?? null);
        $this->assertSame('Ada', $merge['FNAME'] ?? null);
    }
}
