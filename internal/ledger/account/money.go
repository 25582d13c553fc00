package account

import "math"

// MaxAmount bounds a single movement and an overdraft limit, in minor units.
// 10^15 (ten trillion in a two-decimal currency) is far above any real single
// movement, yet below MaxBalance, so clients that parse JSON numbers as
// doubles read any amount exactly, as they read any balance.
const MaxAmount int64 = 1_000_000_000_000_000

// MaxBalance bounds a balance either way, in minor units: 2^53-1, the largest
// integer that a client reading JSON numbers as doubles (JavaScript, and many
// JSON libraries by default) reads exactly. A command that would take a
// balance past it is refused (ErrBalanceLimit) rather than answered with a
// balance some clients would read wrong. Balances recorded before the limit
// existed are read as they are; the checked arithmetic still keeps them from
// wrapping.
const MaxBalance int64 = 1<<53 - 1

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
