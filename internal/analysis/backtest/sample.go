package backtest

import (
	"math"
	"math/rand/v2"
)

// poisson draws from Poisson(λ): by inversion for small λ (exact), by a rounded normal above 30,
// where the difference does not show in request counts.
func poisson(r *rand.Rand, lambda float64) int64 {
	if lambda <= 0 {
		return 0
	}
	if lambda >= 30 {
		return max(0, int64(math.Round(lambda+math.Sqrt(lambda)*r.NormFloat64())))
	}
	u := r.Float64()
	p := math.Exp(-lambda)
	cdf := p
	var k int64
	for u > cdf && k < 1000 {
		k++
		p *= lambda / float64(k)
		cdf += p
	}
	return k
}

// binomial draws from Binomial(n, p): by inversion while n·p is small (errors are rare, so
// almost always), by a rounded normal otherwise.
func binomial(r *rand.Rand, n int64, p float64) int64 {
	if n <= 0 || p <= 0 {
		return 0
	}
	if p >= 1 {
		return n
	}
	mean := float64(n) * p
	if mean >= 30 && float64(n)*(1-p) >= 30 {
		sd := math.Sqrt(mean * (1 - p))
		return min(n, max(0, int64(math.Round(mean+sd*r.NormFloat64()))))
	}
	u := r.Float64()
	q := 1 - p
	pk := math.Pow(q, float64(n))
	cdf := pk
	var k int64
	for u > cdf && k < n {
		pk *= float64(n-k) / float64(k+1) * p / q
		k++
		cdf += pk
	}
	return k
}

// quantile returns the q-quantile of xs (the ⌈q·n⌉-th smallest), reordering xs. xs is not empty.
func quantile(xs []float64, q float64) float64 {
	k := int(math.Ceil(q*float64(len(xs)))) - 1
	k = min(max(k, 0), len(xs)-1)
	lo, hi := 0, len(xs)-1
	for lo < hi {
		// Quickselect with the middle element as pivot: windows are a few hundred samples.
		pivot := xs[(lo+hi)/2]
		i, j := lo, hi
		for i <= j {
			for xs[i] < pivot {
				i++
			}
			for xs[j] > pivot {
				j--
			}
			if i <= j {
				xs[i], xs[j] = xs[j], xs[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return xs[k]
		}
	}
	return xs[k]
}
