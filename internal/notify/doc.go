// Package notify tells people about rollouts: the Notifier port, its adapters (Slack, PagerDuty,
// email and a generic webhook) and a Fanout that sends one event to every configured channel.
//
// # The generic webhook
//
// A "webhook" channel receives a POST whose body is the Event as JSON:
//
//	{"service":"checkout","environment":"production","rolloutID":"r-42","version":"1.3.0",
//	 "previousVersion":"1.2.0","phase":"RolledBack","reason":"analysis","message":"…",
//	 "severity":"critical","time":"2026-11-27T21:00:00Z","url":"https://…"}
//
// (previousVersion, reason, message and url are left out when empty), with Content-Type
// application/json and User-Agent hugai/<version>. When a secret is configured — for channels
// from hugai.yaml, the environment variable HUGAI_WEBHOOK_SECRET at the time of sending — the
// request also carries
//
//	X-Hugai-Signature: sha256=<hex of HMAC-SHA256(secret, raw body)>
//
// as GitHub's X-Hub-Signature-256 does. A receiver computes the same over the bytes it read,
// before decoding them, and compares with a constant-time comparison (hmac.Equal in Go). Any 2xx
// answer is success; 5xx and connection errors are retried twice, other answers are not.
package notify
