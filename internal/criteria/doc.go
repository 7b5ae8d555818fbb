// Package criteria is hugai's threshold language ("error_rate<1%,latency_p95<2s") and the one
// evaluator behind every threshold: success criteria, rollback triggers, analysis templates and
// every metric provider compile to a []Condition and are judged by Condition.Holds / Evaluate.
//
// # Grammar
//
//	criteria  = condition { "," condition }          "," is AND
//	condition = metric op value
//	metric    = ( letter | "_" ) { letter | digit | "_" | "." }
//	op        = "<" | "<=" | ">" | ">=" | "==" | "!="
//	value     = [ "-" ] ( digits [ "." digits ] | "." digits ) [ unit ]
//	unit      = "%" | "ms" | "s" | "m" | "rps"       written right after the number
//
// Spaces, tabs and newlines may surround metric, operator, value and comma. Errors are
// *SyntaxError values whose Col counts characters (not bytes) from 1 over the whole input.
//
// # Metrics and canonical values
//
//	error_rate, success_rate     Rate: percent 0..100; "1%" and a bare "1.0" both mean one percent
//	latency_mean, latency_p50/_p90/_p95/_p99
//	                             Duration: seconds; the unit is required (850ms, 2s, 1m)
//	request_rate                 Throughput: requests per second; "120rps" or a bare "120"
//	cpu                          Percent: percent of one core, may pass 100; "80%" or a bare "80"
//	memory                       Bytes: a bare number of bytes
//	WithMetrics names            Number: the number as written ("%" accepted, value unchanged);
//	                             the only kind that may be negative
//
// A bare number on a rate is a percentage, never a fraction: "error_rate<0.01" is a hundredth
// of a percent. Providers report values in these same units, so no unit reaches the comparison.
//
// # Pass or fire
//
// Holds is the only comparison, and callers give it one of two opposite readings: a success
// criterion PASSES when its condition holds; a rollback trigger FIRES when its condition holds
// (Trigger("error_rate", "greater_than", "1.0") fires once the error rate passes one percent).
// A value that is missing or NaN neither passes nor fires; callers decide whether that is a
// failure or inconclusive.
package criteria
