<?php
/**
 * The storefront: its home page prints Mailchimp's site script (the connected site of the
 * default list's store, or the first), as every storefront page should; and the checkout's
 * newsletter part: the selected lists offered as checkboxes (any
 * number) or as a select box (one), as the merchant set "Subscription select element type".
 * Subscribe is stored by mcsync at once and applied to Mailchimp in the background; under
 * double opt-in the shopper is told to confirm by email. An audience with GDPR fields shows its
 * marketing permissions under its choice; every permission shown is answered (ticked: agreed),
 * and mcsync keeps the answers as the consent record.
 */
declare(strict_types=1);

require __DIR__ . '/lib.php';

use Mcsync\Client\McsyncException;
use Mcsync\V1;

if ($_SERVER['REQUEST_METHOD'] === 'POST') {
    require_csrf();
    $email = trim((string) ($_POST['email'] ?? ''));
    $chosen = $_POST['list_ids'] ?? [];
    $chosen = array_values(array_filter(array_map('strval', is_array($chosen) ? $chosen : [$chosen])));
    $_SESSION['checkout'] = ['email' => $email, 'first_name' => (string) ($_POST['first_name'] ?? ''), 'last_name' => (string) ($_POST['last_name'] ?? '')];
    $ticked = $_POST['gdpr'] ?? [];
    $ticked = is_array($ticked) ? $ticked : [];
    if ($chosen === []) {
        flash('Thank you for your order.');
    } else {
        try {
            // Each permission shown for a list joined gets an answer: ticked or not.
            $answers = [];
            foreach (mcsync()->getSettings()->getMarketingPermissions() as $audience) {
                if (in_array($audience->getListId(), $chosen, true)) {
                    foreach ($audience->getPermissions() as $p) {
                        $answers[$p->getId()] = isset($ticked[$p->getId()]);
                    }
                }
            }
            $answer = mcsync()->subscribe($email, $chosen, $_SESSION['checkout']['first_name'], $_SESSION['checkout']['last_name'], [], $answers);
            $pending = [];
            $subscribed = [];
            foreach ($answer->getLists() as $l) {
                if (!in_array($l->getListId(), $chosen, true)) {
                    continue;
                }
                if ($l->getStatus() === 'pending') {
                    $pending[] = $l->getListName();
                } else {
                    $subscribed[] = $l->getListName();
                }
            }
            if ($pending !== []) {
                $_SESSION['double_opt_in'] = sprintf(
                    'Almost done: we sent an email to %s. Click the link in it to confirm your subscription to %s.',
                    $email,
                    implode(', ', $pending)
                );
            }
            if ($subscribed !== []) {
                flash('You are subscribed to ' . implode(', ', $subscribed) . '.');
            }
        } catch (McsyncException $e) {
            failed($e, 'Newsletter');
        }
    }
    back('index.php');
}

$messages = take_messages();
$fields = $messages['fields'];
$doubleOptIn = $_SESSION['double_opt_in'] ?? null;
unset($_SESSION['double_opt_in']);
$form = $_SESSION['checkout'] ?? ['email' => '', 'first_name' => '', 'last_name' => ''];
$lists = [];
$select = false;
$siteScript = '';
$permissions = [];
try {
    $settings = mcsync()->getSettings();
    foreach ($settings->getMarketingPermissions() as $audience) {
        if (count($audience->getPermissions()) > 0) {
            $permissions[$audience->getListId()] = $audience;
        }
    }
    $select = $settings->getSubscriptionElementType() === V1\SubscriptionElementType::SUBSCRIPTION_ELEMENT_TYPE_SELECT;
    foreach ($settings->getSiteScripts() as $site) {
        if ($siteScript === '' || $site->getListId() === $settings->getDefaultAutomationListId()) {
            $siteScript = $site->getFragment();
        }
    }
    foreach (mcsync()->listLists()->getLists() as $l) {
        if ($l->getSelected() && !$l->getRemoved()) {
            $lists[] = $l;
        }
    }
} catch (McsyncException $e) {
    $messages['errors'][] = 'The newsletter is not available right now.';
}

// Mailchimp's own markup, printed as it comes (it is a <script> tag).
page_header('Checkout', $siteScript);
?>
<header><h1>Checkout</h1><nav><a href="admin.php">Back to the admin page</a></nav></header>
<main class="storefront">
<?php foreach ($messages['flash'] as $m): ?><p class="flash"><?= h($m) ?></p><?php endforeach; ?>
<?php if ($doubleOptIn !== null): ?><p class="notice" id="double-opt-in"><?= h($doubleOptIn) ?></p><?php endif; ?>
<?php foreach ($messages['errors'] as $m): ?><p class="error" role="alert"><?= h($m) ?></p><?php endforeach; ?>
<section>
<h2>Your details</h2>
<form method="post" id="checkout"><?= csrf_field() ?>
  <div class="row"><label for="email">Email</label>
    <input id="email" name="email" value="<?= h($form['email']) ?>"> <?= field_error($fields, 'email') ?></div>
  <div class="row"><label for="first_name">First name</label>
    <input id="first_name" name="first_name" value="<?= h($form['first_name']) ?>"></div>
  <div class="row"><label for="last_name">Last name</label>
    <input id="last_name" name="last_name" value="<?= h($form['last_name']) ?>"></div>
<?php if ($lists !== []): ?>
  <h3>Newsletter</h3>
<?php if ($select): ?>
  <div class="row"><label for="newsletter">Sign me up for</label>
    <select id="newsletter" name="list_ids">
      <option value="">No, thanks</option>
<?php foreach ($lists as $l): ?>
      <option value="<?= h($l->getId()) ?>"><?= h($l->getName()) ?></option>
<?php endforeach; ?>
    </select></div>
<?php else: ?>
<?php foreach ($lists as $l): ?>
  <div class="row"><label for="newsletter-<?= h($l->getId()) ?>">Subscribe to <?= h($l->getName()) ?></label>
    <input type="checkbox" class="newsletter" id="newsletter-<?= h($l->getId()) ?>" name="list_ids[]" value="<?= h($l->getId()) ?>"></div>
<?php endforeach; ?>
<?php endif; ?>
  <?= field_error($fields, 'list_ids') ?>
<?php foreach ($permissions as $listId => $audience): ?>
  <fieldset class="gdpr" id="gdpr-<?= h($listId) ?>">
    <legend>Marketing permissions for <?= h($audience->getListName()) ?></legend>
    <p class="hint">If you subscribe, tick each way you would like to hear from us. You can change your mind at any time with the link in our emails.</p>
<?php foreach ($audience->getPermissions() as $p): ?>
    <div class="row"><label for="gdpr-<?= h($p->getId()) ?>"><?= h($p->getText()) ?></label>
      <input type="checkbox" class="gdpr-permission" id="gdpr-<?= h($p->getId()) ?>" name="gdpr[<?= h($p->getId()) ?>]" value="1"></div>
<?php endforeach; ?>
  </fieldset>
<?php endforeach; ?>
  <?= field_error($fields, 'marketing_permissions') ?>
<?php endif; ?>
  <div class="row"><label></label><button id="place-order" type="submit">Place order</button></div>
</form>
</section>
</main>
</body></html>
