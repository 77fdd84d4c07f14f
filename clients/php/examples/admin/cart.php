<?php
/**
 * The storefront's cart recovery page: where an abandoned-cart email's link lands
 * (`cart.php?target=mailchimp_cart&mcsync_cart=<token>`, plus the mc_cid and mc_eid that
 * Mailchimp's click tracking adds). mcsync's RecoverCart turns the token into the cart, so it is
 * rebuilt in this browser's session on any device, with no login; the campaign that brought
 * the shopper back is kept for the order that follows. Then the plain cart page: its lines and
 * "Place order", which sends the order to mcsync (Upsert) with that campaign.
 */
declare(strict_types=1);

require __DIR__ . '/lib.php';

use Mcsync\Client\McsyncException;
use Mcsync\V1;

// Arriving from the email: rebuild the cart, then show it at a clean URL (the token stays
// out of the address bar, the history and any Referer).
if ($_SERVER['REQUEST_METHOD'] === 'GET' && isset($_GET['mcsync_cart'])) {
    try {
        $recovered = mcsync()->recoverCart((string) $_GET['mcsync_cart']);
        // The binary form: PHP's protobuf JSON parser needs bcmath for int64, which shared
        // hosting may lack.
        $_SESSION['cart'] = base64_encode($recovered->getCart()->serializeToString());
        $_SESSION['campaign'] = [
            'campaign_id' => (string) ($_GET['mc_cid'] ?? ''),
            'email_id' => (string) ($_GET['mc_eid'] ?? ''),
        ];
        flash('Welcome back: your cart is as you left it.');
    } catch (McsyncException $e) {
        unset($_SESSION['cart']);
        switch ($e->getGrpcCode()) {
            case McsyncException::FAILED_PRECONDITION:
                $_SESSION['errors'][] = 'This cart has already been ordered: ' . $e->getGrpcMessage() . '.';
                break;
            case McsyncException::NOT_FOUND:
                $_SESSION['errors'][] = 'This cart is no longer available.';
                break;
            case McsyncException::INVALID_ARGUMENT:
                $_SESSION['errors'][] = 'This link is not valid.';
                break;
            default:
                failed($e, 'Restoring your cart');
        }
    }
    back('cart.php');
}

function session_cart(): ?V1\Cart
{
    if (!isset($_SESSION['cart'])) {
        return null;
    }
    $cart = new V1\Cart();
    $cart->mergeFromString((string) base64_decode((string) $_SESSION['cart']));
    return $cart;
}

if ($_SERVER['REQUEST_METHOD'] === 'POST' && ($cart = session_cart()) !== null) {
    require_csrf();
    $campaign = $_SESSION['campaign'] ?? ['campaign_id' => '', 'email_id' => ''];
    $order = (new V1\Order())
        ->setId('web-' . $cart->getId())
        ->setCartId($cart->getId())
        ->setCustomer($cart->getCustomer())
        ->setCurrencyCode($cart->getCurrencyCode())
        ->setOrderTotal($cart->getOrderTotal())
        ->setTaxTotal($cart->getTaxTotal())
        ->setLines(iterator_to_array($cart->getLines()))
        ->setPaymentStatus(V1\PaymentStatus::PAYMENT_STATUS_PAID)
        ->setPlacedAt(gmdate('Y-m-d\TH:i:s\Z'))
        ->setTracking((new V1\CampaignTracking())
            ->setCampaignId($campaign['campaign_id'])
            ->setEmailId($campaign['email_id']));
    try {
        mcsync()->upsert((new V1\Record())->setOrder($order));
        unset($_SESSION['cart'], $_SESSION['campaign']);
        flash('Thank you for your order ' . $order->getId() . '.');
    } catch (McsyncException $e) {
        failed($e, 'Place order');
    }
    back('cart.php');
}

$messages = take_messages();
$cart = session_cart();
page_header('Your cart');
?>
<header><h1>Your cart</h1><nav><a href="index.php">Checkout</a></nav></header>
<main class="storefront">
<?php foreach ($messages['flash'] as $m): ?><p class="flash"><?= h($m) ?></p><?php endforeach; ?>
<?php foreach ($messages['errors'] as $m): ?><p class="error" role="alert"><?= h($m) ?></p><?php endforeach; ?>
<section>
<?php if ($cart === null): ?>
  <p id="empty-cart">Your cart is empty.</p>
<?php else: ?>
  <table id="cart">
    <thead><tr><th>Product</th><th>Variant</th><th>Quantity</th><th>Price</th></tr></thead>
    <tbody>
<?php foreach ($cart->getLines() as $line): ?>
      <tr><td><?= h($line->getTitle() !== '' ? $line->getTitle() : $line->getProductId()) ?></td><td><?= h($line->getVariantId()) ?></td>
        <td><?= h((string) $line->getQuantity()) ?></td><td><?= h($line->getPrice()) ?> <?= h($cart->getCurrencyCode()) ?></td></tr>
<?php endforeach; ?>
    </tbody>
  </table>
  <p>Total: <strong id="cart-total"><?= h($cart->getOrderTotal()) ?> <?= h($cart->getCurrencyCode()) ?></strong>
    for <span id="cart-email"><?= h($cart->getCustomer() ? $cart->getCustomer()->getEmail() : '') ?></span></p>
  <form method="post"><?= csrf_field() ?><button id="place-cart-order" type="submit">Place order</button></form>
<?php endif; ?>
</section>
</main>
</body></html>
