<?php
declare(strict_types=1);

use Mcsync\Client\Client;
use Mcsync\Client\McsyncException;
use Mcsync\Client\Tests\Processes;
use PHPUnit\Framework\TestCase;

/**
 * The client over https against `mcsync serve --tls-cert --tls-key`: both transports, with the
 * server's CA given as `ca_file`; without it the certificate is refused.
 */
final class TlsTest extends TestCase
{
    /** @var Processes */
    private $procs;

    protected function setUp(): void
    {
        $this->procs = new Processes(true);
    }

    protected function tearDown(): void
    {
        $this->procs->stop();
    }

    public function transports(): array
    {
        return ['grpc-web' => ['grpc-web'], 'h2c' => ['h2c']];
    }

    /** @dataProvider transports */
    public function testTheClientConnectsOverHttpsWithTheServersCa(string $transport): void
    {
        $this->assertStringStartsWith('https://', $this->procs->serverUrl);
        $client = Client::create($this->procs->serverUrl, Processes::TOKEN, $transport, ['ca_file' => $this->procs->caFile]);
        $settings = $client->connect(Processes::KEY_A);
        $this->assertNotNull($settings->getConnection());
        $this->assertTrue($client->getSettings()->getEcommerceAnalytics());

        try {
            Client::create($this->procs->serverUrl, Processes::TOKEN, $transport)->getSettings();
            $this->fail('a certificate the system does not trust was accepted');
        } catch (McsyncException $e) {
            $this->assertSame(McsyncException::UNAVAILABLE, $e->getGrpcCode(), $e->getMessage());
        }
    }
}
