<?php
/**
 * What every page of the reference admin shares: the client (the mcsync token stays here, on
 * the server side: the browser never sees it), the settings page's password and every form's
 * CSRF token, flash messages and field errors carried across a redirect, and HTML escaping.
 *
 * Inside X-Cart none of the guard below is needed: the page sits behind X-Cart's admin login,
 * and its forms carry X-Cart's own form ids (xcart_form_id), which X-Cart checks on every POST.
 * This stand-alone copy has to bring both itself.
 */
declare(strict_types=1);

require getenv('MCSYNC_AUTOLOAD') ?: __DIR__ . '/../../autoload.php';

use Mcsync\Client\Client;
use Mcsync\Client\McsyncException;

// Lax: a cross-site POST (a form on another site) arrives without the session, so without
// its token; httponly: no script reads the session id.
session_start(['cookie_httponly' => true, 'cookie_samesite' => 'Lax']);

/** The session's CSRF token, made on first use (32 random bytes, hex). */
function csrf_token(): string
{
    if (!isset($_SESSION['csrf']) || !is_string($_SESSION['csrf'])) {
        $_SESSION['csrf'] = bin2hex(random_bytes(32));
    }
    return $_SESSION['csrf'];
}

/** The hidden field every POST form carries. */
function csrf_field(): string
{
    return '<input type="hidden" name="csrf" value="' . h(csrf_token()) . '">';
}

/**
 * Refuses a POST whose token is missing or is not this session's: a form on another site
 * cannot know it. Nothing is done; the answer is 403 with a way back.
 */
function require_csrf(): void
{
    $given = $_POST['csrf'] ?? '';
    $expected = $_SESSION['csrf'] ?? '';
    if (is_string($given) && is_string($expected) && $expected !== '' && hash_equals($expected, $given)) {
        return;
    }
    refuse(403, 'Refused: this form did not come from this page (its security token is missing or wrong), so nothing was changed. Reload the page and try again.');
}

/** An error page with `$status`, and the end of the request. */
function refuse(int $status, string $message): void
{
    http_response_code($status);
    page_header('Refused');
    echo '<main><p class="error" id="refused">' . h($message) . '</p><p><a href="' . h($_SERVER['SCRIPT_NAME'] ?? 'admin.php') . '">Back</a></p></main></body></html>';
    exit;
}

/**
 * The settings page's guard. With MCSYNC_ADMIN_PASSWORD set, a session logs in once with it.
 * Without one, the page answers only this machine (loopback): it changes the Mailchimp
 * account, and anyone who reaches it could.
 */
function require_admin(bool $json = false): void
{
    $password = (string) getenv('MCSYNC_ADMIN_PASSWORD');
    if ($password === '') {
        $from = (string) ($_SERVER['REMOTE_ADDR'] ?? '');
        if (in_array($from, ['127.0.0.1', '::1'], true)) {
            return;
        }
        refuse(403, 'This settings page has no password, so it answers only its own machine. Set MCSYNC_ADMIN_PASSWORD to serve it beyond it.');
    }
    if (($_SESSION['admin'] ?? false) === true) {
        return;
    }
    if ($json) {
        http_response_code(403);
        echo json_encode(['error' => 'log in to the settings page first']);
        exit;
    }
    if ($_SERVER['REQUEST_METHOD'] === 'POST' && ($_POST['action'] ?? '') === 'login') {
        require_csrf();
        if (hash_equals($password, (string) ($_POST['password'] ?? ''))) {
            session_regenerate_id(true);
            $_SESSION['admin'] = true;
            back();
        }
        usleep(500000); // a guess costs half a second
        $_SESSION['errors'][] = 'Wrong password.';
        back();
    }
    http_response_code(401);
    page_header('Log in: Mailchimp settings');
    echo '<main><h1>Mailchimp settings</h1>';
    foreach (take_messages()['errors'] as $error) {
        echo '<p class="error">' . h($error) . '</p>';
    }
    echo '<form method="post" id="login-form">' . csrf_field()
        . '<input type="hidden" name="action" value="login">'
        . '<label>Password <input type="password" id="password" name="password" autocomplete="current-password" autofocus></label> '
        . '<button id="login" type="submit">Log in</button></form></main></body></html>';
    exit;
}

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
