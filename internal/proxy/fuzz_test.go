package proxy

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
)

// FuzzRoutes feeds arbitrary admin payloads through decoding, validation and the table: whatever
// validates must compile and route without panicking, and only to versions with weight.
func FuzzRoutes(f *testing.F) {
	f.Add(`{"generation":1,"stable":"v1","backends":[{"version":"v1","weight":100,"endpoints":["127.0.0.1:1"]}]}`)
	f.Add(`{"generation":2,"canary":"v2","holdTimeout":1000,"backends":[{"version":"v1","weight":95,"endpoints":["a:1"]},{"version":"v2","weight":5}]}`)
	f.Add(`{"backends":[{"version":"v1","weight":0},{"version":"v2","weight":0}]}`)
	f.Add(`{"backends":[{"version":"v1","weight":-5,"endpoints":["x"]}]}`)
	f.Fuzz(func(t *testing.T, payload string) {
		var r Routes
		if json.Unmarshal([]byte(payload), &r) != nil || r.Validate() != nil {
			return
		}
		tb := compile(r, newHistory(0), &pools{})
		req := httptest.NewRequest("GET", "/", nil)
		for _, route := range []string{"", "stable", "canary", "preview"} {
			req.Header.Set(headerRoute, route)
			b, e := tb.target(req, nil)
			if route == "" && b != nil && b.weight == 0 {
				t.Fatalf("weighted pick chose %s with weight 0", b.version)
			}
			if e != nil && b == nil {
				t.Fatal("endpoint without a version")
			}
		}
	})
}
