package account

import "math"

// MaxAmount bounds a single movement and an overdraft limit, in minor units.
// 10^15 (ten trillion in a two-decimal currency) is far above any real single
// movement, yet below 2^53, so clients that parse JSON numbers as doubles still
// read it exactly, and over 9,000 maximal movements in one direction fit before
// a balance could reach the int64 limit (which the checked arithmetic refuses
// anyway).
const MaxAmount int64 = 1_000_000_000_000_000

// checkedAdd returns a+b, or ErrOverflow when the sum leaves int64's range:
// a wrapped balance would silently turn a rich account into a debtor.
func checkedAdd(a, b int64) (int64, error) {
	s := a + b
	// Two's complement overflow can only happen when the operands share a sign,
	// and shows as a result of the other sign.
	if (a >= 0) == (b >= 0) && (s >= 0) != (a >= 0) || s == math.MinInt64 {
		return 0, ErrOverflow
	}
	return s, nil
}

// checkedSub returns a-b, or ErrOverflow when the difference leaves
// ±maxBalance. It is not checkedAdd(a, -b) because -MinInt64 wraps.
func checkedSub(a, b int64) (int64, error) {
	d := a - b
	if (a >= 0) != (b >= 0) && (d >= 0) != (a >= 0) || d == math.MinInt64 {
		return 0, ErrOverflow
	}
	return d, nil
}
