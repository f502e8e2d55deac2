"""The Stripe keys of the test merchants (made up: the stub accepts any well-formed key)."""

STRIPE_TEST_KEY = "sk_test_51AlphaShopTestKey000000000000"
STRIPE_LIVE_KEY = "sk_live_51AlphaShopLiveKey000000000000"
STRIPE_WEBHOOK_SECRET = "whsec_alphaShopSigningSecret0000"
