<?php
declare(strict_types=1);

use Mcsync\Client\Client;
use Mcsync\Client\McsyncException;
use Mcsync\Client\Tests\Processes;
use Mcsync\V1;
use PHPUnit\Framework\TestCase;

/**
 * An EU shop's checkout: the audience's GDPR permissions come from getSettings(), the shopper's
 * answers go with subscribe(), and the consent record stays after an unsubscribe.
 */
final class GdprTest extends TestCase
{
    /** @var Processes */
    private $procs;

    protected function setUp(): void
    {
        $this->procs = new Processes(false, 0, 1);
    }

    protected function tearDown(): void
    {
        $this->procs->stop();
    }

    public function testTheShoppersAnswersBecomeAConsentRecord(): void
    {
        $mcsync = Client::create($this->procs->serverUrl, Processes::TOKEN);
        $mcsync->connect(Processes::KEY_A);
        $lists = $mcsync->refreshLists()->getLists();
        $listId = $lists[0]->getId();
        $this->assertTrue($lists[0]->getMarketingPermissionsEnabled());
        $this->assertFalse($lists[1]->getMarketingPermissionsEnabled());
        $mcsync->selectLists([$listId]);

        $shown = $mcsync->getSettings()->getMarketingPermissions();
        $this->assertCount(1, $shown);
        $this->assertSame($listId, $shown[0]->getListId());
        $answers = [];
        foreach ($shown[0]->getPermissions() as $i => $p) {
            $answers[$p->getId()] = $i === 0;
        }
        $this->assertCount(3, $answers);

        $mcsync->subscribe('eu.reader@example.com', [$listId], 'Ada', '', [], $answers);
        $deadline = microtime(true) + 15;
        do {
            $list = $mcsync->getSubscriptions('eu.reader@example.com')->getLists()[0];
            if ($list->getState() === V1\SubscriptionState::SUBSCRIPTION_STATE_APPLIED) {
                break;
            }
            usleep(50_000);
        } while (microtime(true) < $deadline);
        $this->assertSame(V1\SubscriptionState::SUBSCRIPTION_STATE_APPLIED, $list->getState());
        $given = [];
        foreach ($list->getConsent()->getPermissions() as $p) {
            $given[$p->getText()] = $p->getEnabled();
        }
        $this->assertSame(['Email' => true, 'Direct Mail' => false, 'Customized Online Advertising' => false], $given);

        $after = $mcsync->unsubscribe('eu.reader@example.com')->getLists()[0];
        $this->assertSame('unsubscribed', $after->getWanted());
        $this->assertCount(3, $after->getConsent()->getPermissions(), 'the record outlives the unsubscribe');

        try {
            $mcsync->subscribe('eu.reader@example.com', [$listId], '', '', [], ['nope' => true]);
            $this->fail('an unknown permission is refused');
        } catch (McsyncException $e) {
            $this->assertSame(McsyncException::INVALID_ARGUMENT, $e->getGrpcCode());
            $this->assertArrayHasKey('marketing_permissions[0].marketing_permission_id', $e->getFieldViolations());
        }
    }
}
