<?php
/**
 * The reference admin page: what the X-Cart addon's settings page does ("Configuring the
 * Mailchimp Integration with E-commerce support module"), every control wired to mcsync
 * through the PHP client. Actions are POSTs answered with a redirect (a reload never repeats
 * one); upload progress is polled from progress.php.
 */
declare(strict_types=1);

require __DIR__ . '/lib.php';
require_admin();

use Mcsync\Client\McsyncException;
use Mcsync\V1;

const INTERVALS = [
    V1\ListUpdateInterval::LIST_UPDATE_INTERVAL_NEVER => 'Never',
    V1\ListUpdateInterval::LIST_UPDATE_INTERVAL_1_MINUTE => '1 minute',
    V1\ListUpdateInterval::LIST_UPDATE_INTERVAL_10_MINUTES => '10 minutes',
    V1\ListUpdateInterval::LIST_UPDATE_INTERVAL_15_MINUTES => '15 minutes',
    V1\ListUpdateInterval::LIST_UPDATE_INTERVAL_30_MINUTES => '30 minutes',
    V1\ListUpdateInterval::LIST_UPDATE_INTERVAL_1_HOUR => '1 hour',
    V1\ListUpdateInterval::LIST_UPDATE_INTERVAL_2_HOURS => '2 hours',
    V1\ListUpdateInterval::LIST_UPDATE_INTERVAL_4_HOURS => '4 hours',
    V1\ListUpdateInterval::LIST_UPDATE_INTERVAL_6_HOURS => '6 hours',
    V1\ListUpdateInterval::LIST_UPDATE_INTERVAL_12_HOURS => '12 hours',
    V1\ListUpdateInterval::LIST_UPDATE_INTERVAL_1_DAY => '1 day',
    V1\ListUpdateInterval::LIST_UPDATE_INTERVAL_2_DAYS => '2 days',
    V1\ListUpdateInterval::LIST_UPDATE_INTERVAL_5_DAYS => '5 days',
    V1\ListUpdateInterval::LIST_UPDATE_INTERVAL_1_WEEK => '1 week',
];

/** The shop identity fields of the form: form name => [proto path, label]. */
const SHOP_FIELDS = [
    'shop_url' => ['shop.shop_url', 'Store URL'],
    'company_name' => ['shop.company_name', 'Company name'],
    'email' => ['shop.email', 'Company email'],
    'phone' => ['shop.phone', 'Phone'],
    'currency_code' => ['shop.currency_code', 'Currency (ISO 4217)'],
    'address1' => ['shop.address.address1', 'Address'],
    'city' => ['shop.address.city', 'City'],
    'postal_code' => ['shop.address.postal_code', 'Postal code'],
    'country_code' => ['shop.address.country_code', 'Country (ISO 3166 code)'],
];

// Back from Mailchimp's "Connect with Mailchimp" with a code (or the merchant's refusal).
if ($_SERVER['REQUEST_METHOD'] === 'GET' && (isset($_GET['code']) || isset($_GET['error']))) {
    try {
        if (isset($_GET['error'])) {
            $_SESSION['errors'][] = 'Mailchimp did not connect: ' . (string) $_GET['error'];
        } else {
            $s = mcsync()->completeOAuth((string) $_GET['code'], (string) ($_GET['state'] ?? ''));
            flash('Connected to Mailchimp account ' . $s->getConnection()->getAccountName() . '.');
            mcsync()->refreshLists();
        }
    } catch (McsyncException $e) {
        failed($e, 'Connect with Mailchimp');
    }
    back();
}

if ($_SERVER['REQUEST_METHOD'] === 'POST') {
    require_csrf();
    $action = $_POST['action'] ?? '';
    try {
        switch ($action) {
            case 'connect':
                $s = mcsync()->connect(trim((string) ($_POST['api_key'] ?? '')));
                flash('Connected to Mailchimp account ' . $s->getConnection()->getAccountName() . '.');
                mcsync()->refreshLists();
                break;
            case 'oauth':
                // Mailchimp sends the merchant back to this page, addressed as X-Cart addresses
                // its admin pages: with a query naming the target (kept byte for byte).
                $scheme = (!empty($_SERVER['HTTPS']) && $_SERVER['HTTPS'] !== 'off') ? 'https' : 'http';
                $here = $scheme . '://' . $_SERVER['HTTP_HOST'] . strtok($_SERVER['REQUEST_URI'], '?')
                    . '?target=mailchimp_options';
                $begun = mcsync()->beginOAuth($here);
                header('Location: ' . $begun->getAuthorizeUrl(), true, 303);
                exit;
            case 'reset':
                mcsync()->resetConnection();
                flash('The Mailchimp connection is reset. Enter an API key to connect again.');
                break;
            case 'save':
                mcsync()->updateSettings(settings_update($_POST));
                flash('Settings saved.');
                break;
            case 'select_lists':
                mcsync()->selectLists(array_values(array_map('strval', (array) ($_POST['list_ids'] ?? []))));
                flash('The lists for Mailchimp Stores are saved.');
                break;
            case 'refresh_lists':
                mcsync()->refreshLists();
                flash('Lists updated from Mailchimp.');
                break;
            case 'upload':
                $job = mcsync()->startUpload();
                $_SESSION['job'] = $job->getJobId();
                break;
            case 'plan':
                $_SESSION['plan'] = mcsync()->planUpload()->serializeToString();
                break;
            case 'update_store_data':
                $names = [];
                foreach (mcsync()->listLists()->getLists() as $l) {
                    $names[$l->getId()] = $l->getName();
                }
                foreach (mcsync()->updateStoreData()->getStores() as $r) {
                    $store = sprintf('The store of %s (%s)', $names[$r->getListId()] ?? $r->getListId(), $r->getStoreId());
                    if ($r->getOk()) {
                        flash("$store is updated with the company details.");
                    } else {
                        $_SESSION['errors'][] = "$store: " . $r->getError();
                    }
                }
                break;
            case 'verify_site':
                foreach (mcsync()->verifySiteScript()->getSites() as $site) {
                    if ($site->getVerified()) {
                        flash('Mailchimp found the site script on the storefront.');
                    } else {
                        $_SESSION['errors'][] = 'Site script: ' . $site->getProblem();
                    }
                }
                break;
            case 'retry_failed':
                $r = mcsync()->retryFailed();
                flash(sprintf('Retried %d records: %d accepted, %d still refused.', $r->getRetried(), $r->getSucceeded(), $r->getFailed()));
                break;
        }
    } catch (McsyncException $e) {
        failed($e, ucfirst(str_replace('_', ' ', $action)));
        if ($action === 'save') {
            // What the merchant typed stays in the form, to be corrected.
            $_SESSION['form'] = $_POST;
        }
    }
    // Back to where the merchant was: the setup section's actions answer there.
    $inSetup = in_array($action, ['upload', 'plan', 'retry_failed', 'update_store_data', 'select_lists', 'refresh_lists', 'verify_site'], true);
    $_SESSION['messages_at'] = $inSetup ? 'setup' : 'top';
    back($inSetup ? 'admin.php#ecommerce-setup' : 'admin.php');
}

/** Confirmations and errors, where the merchant is looking. */
function messages(array $messages): void
{
    foreach ($messages['flash'] as $m) {
        echo '<p class="flash">' . h($m) . '</p>';
    }
    foreach ($messages['errors'] as $m) {
        echo '<p class="error" role="alert">' . h($m) . '</p>';
    }
}

/** The settings form as an UpdateSettings request (only what the form shows). */
function settings_update(array $post): V1\UpdateSettingsRequest
{
    $shop = new V1\ShopIdentityUpdate();
    $address = new V1\Address();
    foreach (SHOP_FIELDS as $name => [$path, $label]) {
        $value = trim((string) ($post[$name] ?? ''));
        if (strpos($path, 'shop.address.') === 0) {
            $address->{'set' . str_replace('_', '', ucwords(substr($path, 13), '_'))}($value);
        } else {
            $shop->{'set' . str_replace('_', '', ucwords(substr($path, 5), '_'))}($value);
        }
    }
    $shop->setAddress($address);
    return (new V1\UpdateSettingsRequest())
        ->setEcommerceAnalytics(isset($post['ecommerce_analytics']))
        ->setAbandonedCarts(isset($post['abandoned_carts']))
        ->setSingleOptIn(isset($post['single_opt_in']))
        ->setSubscriptionElementType((int) ($post['subscription_element_type'] ?? 1))
        ->setListUpdateInterval((int) ($post['list_update_interval'] ?? 1))
        ->setAuditInterval((int) ($post['audit_interval'] ?? V1\ListUpdateInterval::LIST_UPDATE_INTERVAL_1_DAY))
        ->setCouponUploadMode((int) ($post['coupon_upload_mode'] ?? 1))
        ->setWebhookBaseUrl(trim((string) ($post['webhook_base_url'] ?? '')))
        ->setCartRecoveryUrl(trim((string) ($post['cart_recovery_url'] ?? '')))
        ->setShop($shop);
}

/** "in sync", or what an audit found and what became of its repair, as the merchant reads it. */
function audit_result(V1\Audit $a): string
{
    if ($a->getError() !== '') {
        return 'could not check: ' . $a->getError();
    }
    if ($a->getInSync()) {
        return 'in sync (' . $a->getRecordsChecked() . ' records checked)';
    }
    $f = $a->getFound();
    if ($f->getStoreRecreated()) {
        $found = ['the store was deleted in Mailchimp'];
    } else {
        $found = [];
        foreach ([
            'missing in Mailchimp' => $f->getMissingInMailchimp(),
            'left in Mailchimp after the shop deleted them' => $f->getOrphans(),
            'adopted' => $f->getAdopted(),
            'variants missing' => $f->getVariantsMissing(),
            'variants deleted' => $f->getVariantsDeleted(),
            'promo codes missing' => $f->getPromoCodesMissing(),
        ] as $what => $n) {
            if ($n > 0) {
                $found[] = "$n $what";
            }
        }
    }
    $repair = [
        V1\JobState::JOB_STATE_SUCCEEDED => 'repaired',
        V1\JobState::JOB_STATE_RUNNING => 'repairing',
    ][$a->getRepairState()] ?? 'repair did not finish';
    return $repair . ': ' . implode(', ', $found);
}

function shop_value(?V1\ShopIdentity $shop, string $path, ?array $typed, string $name): string
{
    if ($typed !== null) {
        return (string) ($typed[$name] ?? '');
    }
    if ($shop === null) {
        return '';
    }
    if (strpos($path, 'shop.address.') === 0) {
        $address = $shop->getAddress();
        return $address === null ? '' : (string) $address->{'get' . str_replace('_', '', ucwords(substr($path, 13), '_'))}();
    }
    return (string) $shop->{'get' . str_replace('_', '', ucwords(substr($path, 5), '_'))}();
}

$messages = take_messages();
$fields = $messages['fields'];
$typed = $_SESSION['form'] ?? null;
$messagesAt = $_SESSION['messages_at'] ?? 'top';
unset($_SESSION['form'], $_SESSION['messages_at']);
$down = null;
try {
    $settings = mcsync()->getSettings();
} catch (McsyncException $e) {
    $settings = null;
    $down = $e->getGrpcMessage();
}
$connection = $settings !== null ? $settings->getConnection() : null;
$connected = $connection !== null && $connection->getConnected();
$lists = [];
$jobs = [];
$errors = null;
$status = null;
if ($connected) {
    try {
        $lists = iterator_to_array(mcsync()->listLists()->getLists());
        $jobs = iterator_to_array(mcsync()->listJobs()->getJobs());
        $errors = mcsync()->listSyncErrors(20);
        $status = mcsync()->getSyncStatus();
    } catch (McsyncException $e) {
        $messages['errors'][] = 'Reading from mcsync: ' . $e->getGrpcMessage();
    }
}
// The job to show: the one this page started, else one running.
$jobId = $_SESSION['job'] ?? '';
foreach ($jobs as $j) {
    if ($j->getState() === V1\JobState::JOB_STATE_RUNNING) {
        $jobId = $j->getJobId();
    }
}
$plan = null;
if (isset($_SESSION['plan'])) {
    $plan = new V1\JobProgress();
    $plan->mergeFromString($_SESSION['plan']);
    unset($_SESSION['plan']);
}
$listNames = [];
foreach ($lists as $l) {
    $listNames[$l->getId()] = $l->getName();
}

page_header('Mailchimp Integration with E-commerce support');
?>
<header><h1>Mailchimp Integration with E-commerce support</h1>
<nav><a href="admin.php">Settings</a> · <a href="index.php">Storefront</a></nav></header>
<main>
<?php if ($messagesAt === 'top' || !$connected) { messages($messages); } ?>
<?php if ($down !== null): ?>
<p class="error" role="alert">mcsync cannot be reached: <?= h($down) ?></p>
<?php endif; ?>

<section id="mailchimp-settings">
<h2>Mailchimp settings</h2>
<?php if ($connected): ?>
<div class="row"><label>Mailchimp API key</label>
  <span id="api-key-masked" class="value"><?= h($connection->getApiKeyMasked()) ?></span>
  <span class="hint">Account <?= h($connection->getAccountName()) ?> (<?= h($connection->getAccountEmail()) ?>)</span>
  <form method="post" class="inline"><?= csrf_field() ?><input type="hidden" name="action" value="reset">
    <button id="reset" class="link" type="submit">Reset Mailchimp connection</button></form>
</div>
<?php else: ?>
<form method="post" id="connect-form"><?= csrf_field() ?>
  <input type="hidden" name="action" value="connect">
  <div class="row"><label for="api_key">Mailchimp API key</label>
    <input id="api_key" name="api_key" size="45" autocomplete="off" placeholder="0123456789abcdef0123456789abcdef-us6">
    <?= field_error($fields, 'api_key') ?>
    <button id="connect" type="submit">Connect</button></div>
</form>
<?php if ($settings !== null && $settings->getOauthAvailable()): ?>
<form method="post" id="oauth-form"><?= csrf_field() ?>
  <input type="hidden" name="action" value="oauth">
  <div class="row"><label>or</label><button id="connect-oauth" type="submit">Connect with Mailchimp</button>
    <span class="hint">Log in at Mailchimp and allow the shop; no key to copy.</span></div>
</form>
<?php endif; ?>
<?php endif; ?>

<?php if ($connected): ?>
<form method="post" id="settings-form"><?= csrf_field() ?>
  <input type="hidden" name="action" value="save">
  <div class="row"><label for="ecommerce_analytics">Enable E-commerce analytics</label>
    <input type="checkbox" id="ecommerce_analytics" name="ecommerce_analytics" <?= $settings->getEcommerceAnalytics() ? 'checked' : '' ?>>
    <span class="hint">Be sure to enable E-Commerce Link Tracking for your campaigns and automations in Mailchimp.</span></div>
  <div class="row"><label for="abandoned_carts">Enable Abandoned Carts</label>
    <input type="checkbox" id="abandoned_carts" name="abandoned_carts" <?= $settings->getAbandonedCarts() ? 'checked' : '' ?>></div>
  <div class="row"><label for="single_opt_in">Enable single opt-in for customers</label>
    <input type="checkbox" id="single_opt_in" name="single_opt_in" <?= $settings->getSingleOptIn() ? 'checked' : '' ?>>
    <span class="warning" id="single-opt-in-warning">Remember that abusing the single opt-in option may get your account banned by Mailchimp.</span></div>
  <div class="row"><label for="subscription_element_type">Subscription select element type</label>
    <select id="subscription_element_type" name="subscription_element_type">
      <option value="1" <?= $settings->getSubscriptionElementType() !== 2 ? 'selected' : '' ?>>Type: checkbox</option>
      <option value="2" <?= $settings->getSubscriptionElementType() === 2 ? 'selected' : '' ?>>Type: select box</option>
    </select></div>
  <div class="row"><label for="list_update_interval">Update Mailchimp lists every</label>
    <select id="list_update_interval" name="list_update_interval">
<?php foreach (INTERVALS as $value => $label): ?>
      <option value="<?= $value ?>" <?= $settings->getListUpdateInterval() === $value ? 'selected' : '' ?>><?= h($label) ?></option>
<?php endforeach; ?>
    </select></div>
  <div class="row"><label for="audit_interval">Check the Mailchimp stores for changes made there every</label>
    <select id="audit_interval" name="audit_interval">
<?php foreach (INTERVALS as $value => $label): ?>
      <option value="<?= $value ?>" <?= $settings->getAuditInterval() === $value ? 'selected' : '' ?>><?= h($label) ?></option>
<?php endforeach; ?>
    </select> <span class="hint">What was deleted or changed in Mailchimp is repaired by itself.</span></div>
<?php $hooks = $settings->getWebhooks(); ?>
  <div class="row"><label for="webhook_base_url">Public URL of mcsync for Mailchimp's webhooks</label>
    <input id="webhook_base_url" name="webhook_base_url" size="45" placeholder="https://shop.example.com/mcsync" value="<?= h($typed !== null ? (string) ($typed['webhook_base_url'] ?? '') : $settings->getWebhookBaseUrl()) ?>">
    <?= field_error($fields, 'webhook_base_url') ?>
    <span class="hint" id="webhooks-state"><?php if ($hooks !== null && $hooks->getEnabled() && $hooks->getProblem() === ''): ?><?php $n = count($hooks->getAudiences()); ?>Unsubscribes in Mailchimp reach the shop (<?= $n ?> <?= $n === 1 ? 'audience' : 'audiences' ?>).<?php elseif ($hooks !== null): ?><?= h($hooks->getProblem()) ?><?php endif; ?></span></div>
  <div class="row"><label for="cart_recovery_url">Cart recovery page (abandoned-cart emails link to it)</label>
    <input id="cart_recovery_url" name="cart_recovery_url" size="45" placeholder="https://shop.example.com/cart.php?target=mailchimp_cart" value="<?= h($typed !== null ? (string) ($typed['cart_recovery_url'] ?? '') : $settings->getCartRecoveryUrl()) ?>">
    <?= field_error($fields, 'cart_recovery_url') ?>
    <span class="hint">A link restores the cart on any device; empty keeps the shop's own cart URL.</span></div>
  <div class="row"><label for="coupon_upload_mode">Type of discount coupons that should be uploaded to Mailchimp</label>
    <select id="coupon_upload_mode" name="coupon_upload_mode">
      <option value="1" <?= $settings->getCouponUploadMode() !== 2 ? 'selected' : '' ?>>All discount coupons</option>
      <option value="2" <?= $settings->getCouponUploadMode() === 2 ? 'selected' : '' ?>>Only the discount coupons that match the Mailchimp promo rules</option>
    </select></div>
<?php
    $shop = $settings->getShop();
    $incomplete = $shop === null || $shop->getShopUrl() === '' || $shop->getCompanyName() === '' || $shop->getCurrencyCode() === '';
    $shopErrors = array_filter(array_keys($fields), function ($f) { return strpos($f, 'shop.') === 0; });
?>
  <details id="company" <?= ($incomplete || $shopErrors !== [] || $typed !== null) ? 'open' : '' ?>>
  <summary><b>Company details</b> <span class="hint">(sent to every Mailchimp Store; "Update store data" sends changes)</span></summary>
<?php foreach (SHOP_FIELDS as $name => [$path, $label]): ?>
  <div class="row"><label for="<?= $name ?>"><?= h($label) ?></label>
    <input id="<?= $name ?>" name="<?= $name ?>" value="<?= h(shop_value($settings->getShop(), $path, $typed, $name)) ?>">
    <?= field_error($fields, $path) ?></div>
<?php endforeach; ?>
  </details>
  <div class="row"><label></label><button id="save" type="submit">Save</button></div>
</form>
<?php endif; ?>
</section>

<?php if ($connected): ?>
<section id="ecommerce-setup" <?= $settings->getEcommerceAnalytics() ? '' : 'hidden' ?>>
<h2>E-Commerce features setup</h2>
<?php if ($messagesAt === 'setup') { messages($messages); } ?>
<p>Select the lists for which Mailchimp Stores are created, and click <b>Update</b>.</p>
<form method="post" id="lists-form"><?= csrf_field() ?>
  <input type="hidden" name="action" value="select_lists">
  <table id="audiences"><thead><tr><th></th><th>List</th><th>Subscribers</th></tr></thead><tbody>
<?php foreach ($lists as $l): if ($l->getRemoved()) { continue; } ?>
  <tr><td><input type="checkbox" name="list_ids[]" value="<?= h($l->getId()) ?>" id="list-<?= h($l->getId()) ?>" <?= $l->getSelected() ? 'checked' : '' ?>></td>
      <td><label for="list-<?= h($l->getId()) ?>"><?= h($l->getName()) ?></label></td><td><?= (int) $l->getMemberCount() ?></td></tr>
<?php endforeach; ?>
  </tbody></table>
  <?= field_error($fields, 'list_ids') ?>
  <button id="update-lists" type="submit">Update</button>
  <button type="submit" name="action" value="refresh_lists" class="secondary">Refresh lists from Mailchimp</button>
</form>

<div class="actions">
  <form method="post" class="inline"><?= csrf_field() ?><input type="hidden" name="action" value="upload">
    <button id="upload" type="submit">Upload store data to Mailchimp</button></form>
  <form method="post" class="inline"><?= csrf_field() ?><input type="hidden" name="action" value="plan">
    <button id="plan" type="submit" class="secondary">Preview the upload (dry run)</button></form>
  <form method="post" class="inline"><?= csrf_field() ?><input type="hidden" name="action" value="update_store_data">
    <button id="update-store-data" type="submit" class="secondary">Update store data</button></form>
</div>

<div id="progress" data-job="<?= h($jobId) ?>" <?= $jobId === '' ? 'hidden' : '' ?>>
  <h3>Upload <span id="job-state"></span> <span id="job-percent"></span></h3>
  <div id="phases"></div>
  <p id="job-message"></p>
</div>

<?php if ($plan !== null): ?>
<div id="plan-result">
<h3>What the upload would do</h3>
<?php foreach ($plan->getNewContacts() as $c): $n = $c->getSubscribed() + $c->getPending() + $c->getTransactional(); ?>
<p class="new-contacts"><b><?= h($listNames[$c->getListId()] ?? $c->getListId()) ?></b> would get
  <b><?= $c->getExact() ? '' : 'at most ' ?><?= $n ?> new <?= $n === 1 ? 'contact' : 'contacts' ?></b>
  (<?= (int) $c->getSubscribed() ?> subscribed, <?= (int) $c->getPending() ?> pending confirmation,
  <?= (int) $c->getTransactional() ?> non-subscribed). Mailchimp bills by contacts, these included.</p>
<?php endforeach; ?>
<?php if (count($plan->getPlan()) === 0): ?><p>Nothing to send.</p><?php endif; ?>
<table><thead><tr><th>List</th><th>Kind</th><th>Create</th><th>Update</th><th>Delete</th><th>Unchanged</th></tr></thead><tbody>
<?php foreach ($plan->getPlan() as $p): ?>
<tr><td><?= h($listNames[$p->getListId()] ?? $p->getListId()) ?></td><td><?= h(kind_name($p->getKind())) ?></td>
<td><?= (int) $p->getCreates() ?></td><td><?= (int) $p->getUpdates() ?></td><td><?= (int) $p->getDeletes() ?></td><td><?= (int) $p->getUnchanged() ?></td></tr>
<?php endforeach; ?>
</tbody></table>
</div>
<?php endif; ?>

<h3 id="site-script">Storefront script <span class="hint">(Mailchimp's pop-up forms, product retargeting and tracking; the storefront prints it on every page)</span></h3>
<?php $sites = iterator_to_array($settings->getSiteScripts()); ?>
<?php if ($sites === []): ?>
<p id="no-site-script">Each store gets its script with its first upload.</p>
<?php else: ?>
<table id="site-scripts"><thead><tr><th>List</th><th>Script</th><th>On the storefront</th></tr></thead><tbody>
<?php foreach ($sites as $site): ?>
<tr><td><?= h($listNames[$site->getListId()] ?? $site->getListId()) ?></td><td><code><?= h($site->getUrl()) ?></code></td>
<td class="site-state"><?= $site->getVerified() ? 'verified' : h($site->getProblem() !== '' ? $site->getProblem() : 'not checked yet') ?></td></tr>
<?php endforeach; ?>
</tbody></table>
<form method="post"><?= csrf_field() ?><input type="hidden" name="action" value="verify_site">
  <button id="verify-site" type="submit" class="secondary">Verify the script on the storefront</button></form>
<?php endif; ?>

<h3 id="audit">Store audit <span class="hint">(each store checked against Mailchimp every <?= h(strtolower(INTERVALS[$settings->getAuditInterval()] ?? '')) ?>, no button needed)</span></h3>
<?php $audited = $status === null ? [] : array_filter(iterator_to_array($status->getStores()), fn ($s) => $s->getLastAudit() !== null); ?>
<?php if ($audited === []): ?>
<p id="no-audit">Not checked yet.</p>
<?php else: ?>
<table id="audits"><thead><tr><th>List</th><th>Last checked</th><th>Result</th></tr></thead><tbody>
<?php foreach ($audited as $s): $a = $s->getLastAudit(); ?>
<tr><td><?= h($s->getListName()) ?></td><td><?= h(gmdate('Y-m-d H:i', (int) $a->getAt()->getSeconds())) ?> UTC</td>
<td class="audit-result"><?= h(audit_result($a)) ?></td></tr>
<?php endforeach; ?>
</tbody></table>
<?php endif; ?>

<h3 id="sync">Sync errors <span class="hint">(records Mailchimp refused)</span></h3>
<?php if ($errors === null || $errors->getTotal() === 0): ?>
<p id="no-sync-errors">No sync errors.</p>
<?php else: ?>
<table id="sync-errors"><thead><tr><th>Kind</th><th>Id</th><th>Store</th><th>Reason</th></tr></thead><tbody>
<?php foreach ($errors->getErrors() as $e): ?>
<tr><td><?= h(kind_name($e->getKind())) ?></td><td><?= h($e->getId()) ?></td><td><?= h($e->getStoreId()) ?></td>
<td><?= h($e->getTitle() . ': ' . $e->getDetail()) ?><?php foreach ($e->getFieldErrors() as $f): ?><br><small><?= h($f) ?></small><?php endforeach; ?></td></tr>
<?php endforeach; ?>
</tbody></table>
<?php if ($errors->getTotal() > count($errors->getErrors())): ?><p>… and <?= $errors->getTotal() - count($errors->getErrors()) ?> more.</p><?php endif; ?>
<form method="post"><?= csrf_field() ?><input type="hidden" name="action" value="retry_failed">
  <button id="retry-failed" type="submit">Retry failed</button></form>
<?php endif; ?>
</section>
<?php endif; ?>
</main>
<script src="admin.js"></script>
</body></html>
