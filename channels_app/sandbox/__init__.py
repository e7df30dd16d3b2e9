"""The provider sandbox: a fake provider API (fake_provider) and a customer who posts signed
webhooks (customer), for the demo and the tests."""
