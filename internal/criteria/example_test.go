package criteria_test

import (
	"fmt"

	"github.com/hugai-dev/hugai/internal/criteria"
)

func ExampleParse() {
	conds, err := criteria.Parse("error_rate < 1.0, latency_p95<2000ms, orders>=95", criteria.WithMetrics("orders"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(criteria.Format(conds))
	measured := map[string]float64{"error_rate": 0.2, "latency_p95": 2.4}
	for _, r := range criteria.Evaluate(conds, func(m string) (float64, bool) { v, ok := measured[m]; return v, ok }) {
		fmt.Printf("%s: value %s missing %v pass %v\n", r.Condition, criteria.FormatValue(r.Kind, r.Value), r.Missing, r.Pass)
	}
	_, err = criteria.Parse("error_rate<1%%")
	fmt.Println(err)
	// Output:
	// error_rate<1%,latency_p95<2s,orders>=95
	// error_rate<1%: value 0.2% missing false pass true
	// latency_p95<2s: value 2.4s missing false pass false
	// orders>=95: value 0 missing true pass false
	// col 14: unexpected '%'
}

func ExampleTrigger() {
	c, err := criteria.Trigger("latency_p95", "greater_than", "2000ms")
	if err != nil {
		fmt.Println(err)
		return
	}
	// A trigger fires when its condition holds.
	fmt.Println(c, c.Holds(2.5), c.Holds(1.5))
	// Output: latency_p95>2s true false
}
