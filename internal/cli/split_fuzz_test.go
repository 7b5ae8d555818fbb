package cli

import "testing"

// FuzzParseSplit: --traffic-split and --switch-steps are user input. Whatever it accepts is a list
// of increasing weights within 1..100 that ends at 100; anything else is an error, never a panic.
func FuzzParseSplit(f *testing.F) {
	for _, s := range []string{"5,25,50,100", "100", "10%,100%", " 1 , 100 ", "50,20,100", "0,100", "5,,100", "", ",", "101", "-5,100", "1e2", "９,100"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ws, err := parseSplit(s)
		if err != nil {
			return
		}
		if len(ws) == 0 || ws[len(ws)-1] != 100 {
			t.Fatalf("%q → %v: must end at 100", s, ws)
		}
		for i, w := range ws {
			if w < 1 || w > 100 || i > 0 && w <= ws[i-1] {
				t.Fatalf("%q → %v: weights must increase within 1..100", s, ws)
			}
		}
	})
}
