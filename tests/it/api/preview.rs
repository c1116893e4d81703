//! `POST /schedules/preview` over HTTP: the engine's fires with local
//! times, DST included, and precise refusals.

use serde_json::json;

use crate::harness::ApiServer;

#[tokio::test]
async fn preview_shows_utc_and_local_times_across_a_dst_change() {
    let server = ApiServer::start(&[]).await;
    let api = server.client(None);
    let reply = api
        .preview(&json!({
            "schedule": "0 30 2 * * *",
            "timezone": "Europe/Berlin",
            "count": 3,
            "after": "2027-03-27T00:00:00Z",
        }))
        .await
        .expect(200);
    assert_eq!(
        reply.body,
        json!({"fires": [
            {"at": "2027-03-27T01:30:00.000Z", "local": "2027-03-27T02:30:00.000+01:00"},
            // Spring forward: 02:30 does not exist; a fixed-time job fires when the gap ends.
            {"at": "2027-03-28T01:00:00.000Z", "local": "2027-03-28T03:00:00.000+02:00"},
            {"at": "2027-03-29T00:30:00.000Z", "local": "2027-03-29T02:30:00.000+02:00"},
        ]})
    );

    // Ten by default, after now.
    let reply = api
        .preview(&json!({"schedule": "@hourly"}))
        .await
        .expect(200);
    assert_eq!(reply.body["fires"].as_array().map(Vec::len), Some(10));

    // A schedule that runs out returns what there is.
    let reply = api
        .preview(&json!({"schedule": "@at 2030-01-01T00:00:00Z", "count": 5, "after": "2029-01-01T00:00:00Z"}))
        .await
        .expect(200);
    assert_eq!(
        reply.body["fires"],
        json!([{"at": "2030-01-01T00:00:00.000Z", "local": "2030-01-01T00:00:00.000+00:00"}])
    );

    let reply = api
        .preview(&json!({"schedule": "0 0 32 * *"}))
        .await
        .expect(400);
    assert_eq!(reply.error(), ("invalid_value", Some("schedule")));
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("day-of-month: 32 is out of range 1-31"),
        "{}",
        reply.text
    );
}
