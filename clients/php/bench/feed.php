<?php
/**
 * The shop's feed from PHP, as X-Cart has its records: arrays built from database rows.
 * Driven by run.sh, which starts a fresh mcsync for each path and reads its peak memory.
 *
 *   php feed.php ndjson  N FILE      write the N records as NDJSON (for `mcsync push FILE`)
 *   php feed.php json    N URL TOKEN              pushRecordsJson from a generator
 *   php feed.php objects N URL TOKEN [grpc-web|h2c] pushRecords of V1 objects built with setters
 *   php feed.php upsert  N URL TOKEN [reuse|fresh]  N upsertJson calls: latency percentiles
 *
 * Each run prints one JSON line: records, seconds, records_per_s, php_peak_mib (and latency).
 */
declare(strict_types=1);

require __DIR__ . '/../autoload.php';

use Mcsync\Client\Client;
use Mcsync\V1;

/** The i-th row, as X-Cart's models give it: 20 % products (1 to 3 variants), 25 % customers, 45 % orders (1 to 4 lines), 10 % carts. */
function row(int $i): array
{
    $slot = $i % 20;
    $money = static fn(int $cents): string => sprintf('%d.%02d', intdiv($cents, 100), $cents % 100);
    if ($slot < 4) {
        $variants = [];
        for ($v = 0, $n = 1 + $i % 3; $v < $n; $v++) {
            $variants[] = ['id' => "p$i-$v", 'title' => "Size $v", 'sku' => "SKU-$i-$v", 'price' => $money(999 + $v * 100), 'inventory_quantity' => ($i + $v) % 50, 'visibility' => 'visible'];
        }
        return ['product' => [
            'id' => "p$i", 'title' => "Product $i", 'url' => "https://shop.example.com/product/$i",
            'description' => "A fine product number $i", 'vendor' => 'Acme', 'image_url' => "https://shop.example.com/img/$i.jpg",
            'categories' => ['Home', 'Kitchen'], 'published_at' => '2026-01-02T03:04:05Z', 'variants' => $variants,
        ]];
    }
    $customer = static fn(int $c): array => ['id' => "c$c", 'email' => "buyer$c@example.com", 'first_name' => 'Ada', 'last_name' => "Buyer$c"];
    if ($slot < 9) {
        return ['customer' => $customer($i) + ['company' => 'Acme Ltd', 'accepts_marketing' => $i % 2 === 0,
            'address' => ['address1' => "$i Main St", 'city' => 'Springfield', 'postal_code' => '12345', 'country_code' => 'US']]];
    }
    $lines = [];
    $total = 0;
    for ($l = 0, $n = 1 + $i % 4; $l < $n; $l++) {
        $p = 20 * intdiv($i, 20) + ($l % 4);
        $lines[] = ['id' => "$i-$l", 'product_id' => "p$p", 'variant_id' => "p$p-0", 'quantity' => 1 + $l, 'price' => '9.99'];
        $total += 999 * (1 + $l);
    }
    $common = ['id' => ($slot < 18 ? 'o' : 'k') . $i, 'customer' => $customer(20 * intdiv($i, 20) + 4), 'currency_code' => 'USD', 'order_total' => $money($total), 'lines' => $lines];
    if ($slot < 18) {
        return ['order' => $common + ['tax_total' => '0.00', 'placed_at' => '2026-11-26T15:30:00Z', 'payment_status' => 'PAYMENT_STATUS_PAID']];
    }
    return ['cart' => $common + ['checkout_url' => "https://shop.example.com/cart/$i"]];
}

function rows(int $n): \Generator
{
    for ($i = 0; $i < $n; $i++) {
        yield row($i);
    }
}

/** The object path: a V1\Record built with setters from the same row, as the client's README shows. */
function record(array $row): V1\Record
{
    $kind = array_key_first($row);
    $r = $row[$kind];
    $customer = static fn(array $c): V1\OrderCustomer => (new V1\OrderCustomer())->setId($c['id'])->setEmail($c['email'])->setFirstName($c['first_name'])->setLastName($c['last_name']);
    $lines = static function (array $lines): array {
        $out = [];
        foreach ($lines as $l) {
            $out[] = (new V1\LineItem())->setId($l['id'])->setProductId($l['product_id'])->setVariantId($l['variant_id'])->setQuantity($l['quantity'])->setPrice($l['price']);
        }
        return $out;
    };
    switch ($kind) {
        case 'product':
            $variants = [];
            foreach ($r['variants'] as $v) {
                $variants[] = (new V1\ProductVariant())->setId($v['id'])->setTitle($v['title'])->setSku($v['sku'])->setPrice($v['price'])->setInventoryQuantity($v['inventory_quantity'])->setVisibility($v['visibility']);
            }
            return (new V1\Record())->setProduct((new V1\Product())->setId($r['id'])->setTitle($r['title'])->setUrl($r['url'])
                ->setDescription($r['description'])->setVendor($r['vendor'])->setImageUrl($r['image_url'])
                ->setCategories($r['categories'])->setPublishedAt($r['published_at'])->setVariants($variants));
        case 'customer':
            $a = $r['address'];
            $address = (new V1\Address())->setAddress1($a['address1'])->setCity($a['city'])->setPostalCode($a['postal_code'])->setCountryCode($a['country_code']);
            return (new V1\Record())->setCustomer((new V1\Customer())->setId($r['id'])->setEmail($r['email'])->setFirstName($r['first_name'])
                ->setLastName($r['last_name'])->setCompany($r['company'])->setAcceptsMarketing($r['accepts_marketing'])->setAddress($address));
        case 'order':
            return (new V1\Record())->setOrder((new V1\Order())->setId($r['id'])->setCustomer($customer($r['customer']))->setCurrencyCode($r['currency_code'])
                ->setOrderTotal($r['order_total'])->setTaxTotal($r['tax_total'])->setPlacedAt($r['placed_at'])
                ->setPaymentStatus(V1\PaymentStatus::PAYMENT_STATUS_PAID)->setLines($lines($r['lines'])));
        default:
            return (new V1\Record())->setCart((new V1\Cart())->setId($r['id'])->setCustomer($customer($r['customer']))->setCurrencyCode($r['currency_code'])
                ->setOrderTotal($r['order_total'])->setCheckoutUrl($r['checkout_url'])->setLines($lines($r['lines'])));
    }
}

function report(array $fields): void
{
    $fields['php_peak_mib'] = round(memory_get_peak_usage(true) / 1048576, 1);
    echo json_encode($fields), "\n";
}

[$self, $mode, $n] = $argv + [null, null, null];
$n = (int) $n;
switch ($mode) {
    case 'ndjson':
        $out = fopen($argv[3], 'wb');
        foreach (rows($n) as $row) {
            fwrite($out, json_encode($row, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE) . "\n");
        }
        fclose($out);
        report(['records' => $n]);
        break;
    case 'json':
        $mcsync = Client::create($argv[3], $argv[4]);
        $t = microtime(true);
        $summary = $mcsync->pushRecordsJson(rows($n));
        $s = microtime(true) - $t;
        if ($summary['accepted'] + $summary['unchanged'] !== $n) {
            fwrite(STDERR, json_encode($summary) . "\n");
            exit(1);
        }
        report(['records' => $n, 'seconds' => round($s, 2), 'records_per_s' => (int) ($n / $s)]);
        break;
    case 'objects':
        $mcsync = Client::create($argv[3], $argv[4], $argv[5] ?? 'grpc-web');
        $t = microtime(true);
        $summary = $mcsync->pushRecords((function () use ($n) {
            foreach (rows($n) as $row) {
                yield record($row);
            }
        })());
        $s = microtime(true) - $t;
        if ($summary->getAccepted() + $summary->getUnchanged() !== $n) {
            fwrite(STDERR, $summary->serializeToJsonString() . "\n");
            exit(1);
        }
        report(['records' => $n, 'seconds' => round($s, 2), 'records_per_s' => (int) ($n / $s)]);
        break;
    case 'upsert':
        // A checkout page makes one call per PHP request: `fresh` builds the client for each
        // call (a new connection); `reuse` keeps one, as a worker feeding changes would.
        $fresh = ($argv[5] ?? 'reuse') === 'fresh';
        $mcsync = Client::create($argv[3], $argv[4]);
        $times = [];
        for ($i = 0; $i < $n; $i++) {
            $row = row(9 + 20 * $i); // orders
            $row['order']['id'] = "live$i";
            $t = hrtime(true);
            if ($fresh) {
                $mcsync = Client::create($argv[3], $argv[4]);
            }
            $mcsync->upsertJson($row);
            $times[] = (hrtime(true) - $t) / 1e6;
        }
        sort($times);
        $at = static fn(float $q): float => round($times[min($n - 1, (int) floor($q * $n))], 2);
        report(['records' => $n, 'p50_ms' => $at(0.5), 'p99_ms' => $at(0.99), 'max_ms' => round(end($times), 2)]);
        break;
    default:
        fwrite(STDERR, "usage: php feed.php ndjson|json|objects|upsert N ...\n");
        exit(2);
}
