<?php
declare(strict_types=1);

use Mcsync\Client\Client;
use Mcsync\Client\Tests\Processes;
use Mcsync\V1;
use PHPUnit\Framework\TestCase;

/**
 * A shopper unsubscribes in Mailchimp; the shop learns of it by polling and by watching, as
 * X-Cart would to clear its newsletter flag.
 */
final class MemberEventsTest extends TestCase
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

    /** What Mailchimp's unsubscribe link does, through the simulator's control endpoint. */
    private function unsubscribeInMailchimp(string $listId, string $email): void
    {
        $root = substr($this->procs->simUrl, 0, -strlen('/3.0'));
        $ch = curl_init("$root/__sim/member-status");
        curl_setopt_array($ch, [
            CURLOPT_POST => true,
            CURLOPT_HTTPHEADER => ['content-type: application/json'],
            CURLOPT_POSTFIELDS => json_encode(['list_id' => $listId, 'email' => $email, 'status' => 'unsubscribed']),
            CURLOPT_RETURNTRANSFER => true,
        ]);
        curl_exec($ch);
        $this->assertSame(204, curl_getinfo($ch, CURLINFO_RESPONSE_CODE));
        curl_close($ch);
    }

    public function testAnUnsubscribeInMailchimpReachesTheShop(): void
    {
        $mcsync = Client::create($this->procs->serverUrl, Processes::TOKEN);
        $mcsync->connect(Processes::KEY_A);
        $listId = $mcsync->refreshLists()->getLists()[0]->getId();
        $mcsync->selectLists([$listId]);
        $mcsync->updateSettings((new V1\UpdateSettingsRequest())->setWebhookBaseUrl($this->procs->serverUrl));
        $deadline = microtime(true) + 20;
        while (count($mcsync->getSettings()->getWebhooks()->getAudiences()) !== 1) {
            $this->assertLessThan($deadline, microtime(true), 'the hook is registered');
            usleep(100000);
        }
        $this->assertTrue($mcsync->getSettings()->getWebhooks()->getEnabled());

        $this->unsubscribeInMailchimp($listId, 'reader@example.com');

        $seen = null;
        $watcher = $mcsync->withDeadline(20000);
        try {
            $watcher->watchMemberEvents(0, function (V1\MemberEvent $e) use (&$seen) {
                $seen = $e;
                throw new \Mcsync\Client\StreamStopped();
            });
        } catch (\Mcsync\Client\StreamStopped $e) {
            // Left after the first event, as a shop handling one at a time may.
        }
        $this->assertNotNull($seen);
        $this->assertSame(V1\MemberEventType::MEMBER_EVENT_TYPE_UNSUBSCRIBE, $seen->getType());
        $this->assertSame('reader@example.com', $seen->getEmail());
        $this->assertSame($listId, $seen->getListId());

        $page = $mcsync->listMemberEvents(0, 10);
        $this->assertCount(1, $page->getEvents());
        $this->assertSame(1, (int) $page->getLastSequence());
        $this->assertCount(0, $mcsync->listMemberEvents(1)->getEvents(), 'nothing after the last one handled');
    }
}
