"""The Stripe keys and PayPal apps of the test merchants (made up: the stubs accept them)."""

STRIPE_TEST_KEY = "sk_test_51AlphaShopTestKey000000000000"
STRIPE_LIVE_KEY = "sk_live_51AlphaShopLiveKey000000000000"
STRIPE_WEBHOOK_SECRET = "whsec_alphaShopSigningSecret0000"

# The PayPal apps of the test merchants (made up; the PayPal stub knows them).
PAYPAL_SANDBOX_CLIENT_ID = "AlphaShopSandboxClientId0000000000000000"
PAYPAL_SANDBOX_SECRET = "AlphaShopSandboxSecret00000000000000000000"
PAYPAL_LIVE_CLIENT_ID = "AlphaShopLiveClientId000000000000000000000"
PAYPAL_LIVE_SECRET = "AlphaShopLiveSecret0000000000000000000000000"
PAYPAL_WEBHOOK_ID = "1JE4291016473214C"
