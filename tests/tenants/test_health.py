def test_healthz_reports_database_channel_layer_and_broker(client, db):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["detail"] == "postgresql"
    assert body["checks"]["channel_layer"]["detail"] == "RedisChannelLayer"
    assert set(body["checks"]) == {"database", "channel_layer", "broker", "routing", "scanner"}
    # The tests' own clamd (scripts/ensure-clamd.sh).
    assert body["checks"]["scanner"]["status"] == "ok"
