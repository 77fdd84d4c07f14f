<?php
declare(strict_types=1);

namespace Mcsync\Client\Tests;

/**
 * A real `mcsync sim` and `mcsync serve`, each in its own process on a free port, for one test.
 * The binary is target/debug/mcsync (built by `cargo test`) unless MCSYNC_BIN says otherwise.
 */
final class Processes
{
    public const KEY_A = '0123456789abcdef0123456789abcdef-us6';
    public const KEY_B = 'fedcba9876543210fedcba9876543210-us6';
    public const KEY_UNKNOWN = '00000000000000000000000000000000-us6';
    public const KEY_DISABLED = 'dddddddddddddddddddddddddddddddd-us6';
    public const TOKEN = 'php-test-token';

    /** @var resource[] */
    private $procs = [];
    /** @var string */
    private $dir;
    /** @var string */
    public $simUrl;
    /** @var string */
    public $serverUrl;
    /** @var string|null the CA of the server's certificate, when it serves TLS */
    public $caFile;

    public static function binary(): string
    {
        $bin = getenv('MCSYNC_BIN') ?: __DIR__ . '/../../../target/debug/mcsync';
        if (!is_executable($bin)) {
            throw new \RuntimeException("no mcsync binary at $bin: run `cargo build` or set MCSYNC_BIN");
        }
        return $bin;
    }

    /**
     * @param bool $tls serve over TLS, with a certificate from a CA made for the test
     * @param int $latencyMs the simulator's latency per request
     * @param int $gdprLists how many of the simulator's audiences have GDPR fields
     */
    public function __construct(bool $tls = false, int $latencyMs = 0, int $gdprLists = 0)
    {
        $this->dir = sys_get_temp_dir() . '/mcsync-php-' . bin2hex(random_bytes(6));
        mkdir($this->dir, 0700, true);
        $tlsFlags = $tls ? $this->certificates() : '';
        $bin = escapeshellarg(self::binary());
        $keys = sprintf('--api-key %s --api-key %s --disabled-key %s', self::KEY_A, self::KEY_B, self::KEY_DISABLED);
        $this->start("$bin sim --listen 127.0.0.1:0 $keys --lists 3 --gdpr-lists $gdprLists --latency-ms $latencyMs", 'sim');
        $line = $this->waitFor('sim.out', 'Mailchimp simulator: ');
        preg_match('#(http://\S+/3\.0)#', $line, $m);
        $this->simUrl = $m[1];
        $data = escapeshellarg($this->dir . '/data');
        $this->start(
            "$bin serve --listen 127.0.0.1:0 --data-dir $data --token " . self::TOKEN
            . ' --mailchimp-url ' . escapeshellarg($this->simUrl) . ' --log-format json' . $tlsFlags,
            'server'
        );
        $line = $this->waitFor('server.err', 'mcsync listening');
        $this->serverUrl = ($tls ? 'https://' : 'http://') . json_decode($line, true)['addr'];
    }

    /** A CA and a certificate for 127.0.0.1 signed by it (openssl); the serve flags for them. */
    private function certificates(): string
    {
        $d = escapeshellarg($this->dir);
        $ec = '-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes';
        file_put_contents("{$this->dir}/ext.cnf", "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n");
        foreach ([
            "openssl req -x509 $ec -keyout ca.key -out ca.pem -days 2 -subj '/CN=mcsync test CA'",
            "openssl req $ec -keyout server.key -out server.csr -subj '/CN=localhost'",
            'openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile ext.cnf',
        ] as $command) {
            exec("cd $d && $command 2>&1", $output, $status);
            if ($status !== 0) {
                throw new \RuntimeException("openssl failed: " . implode("\n", $output));
            }
        }
        $this->caFile = "{$this->dir}/ca.pem";
        return ' --tls-cert ' . escapeshellarg("{$this->dir}/server.pem")
            . ' --tls-key ' . escapeshellarg("{$this->dir}/server.key");
    }

    private function start(string $command, string $name): void
    {
        $spec = [
            0 => ['file', '/dev/null', 'r'],
            1 => ['file', "{$this->dir}/$name.out", 'w'],
            2 => ['file', "{$this->dir}/$name.err", 'w'],
        ];
        // exec: the process we hold is mcsync itself, so terminating it stops mcsync.
        $proc = proc_open("exec $command", $spec, $pipes);
        if (!is_resource($proc)) {
            throw new \RuntimeException("cannot start: $command");
        }
        $this->procs[] = $proc;
    }

    private function waitFor(string $file, string $needle): string
    {
        $deadline = microtime(true) + 30;
        while (microtime(true) < $deadline) {
            foreach (@file("{$this->dir}/$file") ?: [] as $line) {
                if (strpos($line, $needle) !== false) {
                    return trim($line);
                }
            }
            usleep(20000);
        }
        throw new \RuntimeException("timed out waiting for '$needle' in $file");
    }

    public function stop(): void
    {
        foreach (array_reverse($this->procs) as $proc) {
            proc_terminate($proc, 15);
            proc_close($proc);
        }
        $this->procs = [];
        exec('rm -rf ' . escapeshellarg($this->dir));
    }
}
