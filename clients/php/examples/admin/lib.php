<?php
/**
 * What every page of the reference admin shares: the client (the mcsync token stays here, on
 * the server side: the browser never sees it), flash messages and field errors carried across
 * a redirect, and HTML escaping.
 */
declare(strict_types=1);

require getenv('MCSYNC_AUTOLOAD') ?: __DIR__ . '/../../autoload.php';

use Mcsync\Client\Client;
use Mcsync\Client\McsyncException;

session_start();

function mcsync(): Client
{
    static $client = null;
    if ($client === null) {
        $token = getenv('MCSYNC_TOKEN') ?: null;
        $file = getenv('MCSYNC_TOKEN_FILE');
        if ($token === null && $file) {
            $token = rtrim((string) file_get_contents($file), "\r\n");
        }
        $options = [];
        if ($ca = getenv('MCSYNC_CA_FILE')) {
            $options['ca_file'] = $ca;
        }
        $client = Client::create(getenv('MCSYNC_URL') ?: 'http://127.0.0.1:50051', $token, 'grpc-web', $options);
    }
    return $client;
}

function h(?string $s): string
{
    return htmlspecialchars((string) $s, ENT_QUOTES, 'UTF-8');
}

/** Notes a success for the next page. */
function flash(string $message): void
{
    $_SESSION['flash'][] = $message;
}

/**
 * Notes mcsync's refusal for the next page: each field violation goes next to its field
 * ('shop.email', 'api_key', 'email'); the message goes to the top when no field names it.
 */
function failed(McsyncException $e, string $doing): void
{
    $violations = $e->getFieldViolations();
    foreach ($violations as $field => $reason) {
        $_SESSION['field_errors'][$field] = $reason;
    }
    if ($violations === []) {
        $_SESSION['errors'][] = "$doing: " . $e->getGrpcMessage();
    } else {
        $_SESSION['errors'][] = "$doing: please correct the fields marked below.";
    }
}

/** @return array{flash: string[], errors: string[], fields: array<string,string>} and forgets them */
function take_messages(): array
{
    $out = [
        'flash' => $_SESSION['flash'] ?? [],
        'errors' => $_SESSION['errors'] ?? [],
        'fields' => $_SESSION['field_errors'] ?? [],
    ];
    unset($_SESSION['flash'], $_SESSION['errors'], $_SESSION['field_errors']);
    return $out;
}

/** The error mcsync gave for a field (or any field under it), as a span next to the field. */
function field_error(array $fields, string $field): string
{
    $reasons = [];
    foreach ($fields as $path => $reason) {
        // The field itself, or a part of it: "shop.email", "list_ids[1]".
        $part = substr((string) $path, strlen($field), 1);
        if (strncmp((string) $path, $field, strlen($field)) === 0 && in_array($part, ['', '.', '['], true)) {
            $reasons[] = $reason;
        }
    }
    if ($reasons === []) {
        return '';
    }
    return '<span class="field-error" data-field="' . h($field) . '">' . h(implode('; ', $reasons)) . '</span>';
}

/** Post/Redirect/Get: a reload never repeats an action. */
function back(string $to = 'admin.php'): void
{
    header('Location: ' . $to, true, 303);
    exit;
}

/** A kind's name as the merchant reads it. */
function kind_name(int $kind): string
{
    $names = [1 => 'Products', 2 => 'Customers', 3 => 'Orders', 4 => 'Carts', 5 => 'Coupons'];
    return $names[$kind] ?? 'Records';
}

/** @param string $head more for the head (the storefront's site script) */
function page_header(string $title, string $head = ''): void
{
    echo '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">';
    echo '<meta name="viewport" content="width=device-width, initial-scale=1">';
    echo '<title>' . h($title) . '</title><link rel="stylesheet" href="style.css">' . $head . '</head><body>';
}
