package eventstore

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// DefaultConflictBudget is how long RetryConflicts keeps deciding again when
// no budget is given: well inside a command function's timeout.
const DefaultConflictBudget = 3 * time.Second

// conflictMargin is kept before the context's deadline: the caller still
// has to answer after the last attempt.
const conflictMargin = time.Second

// RetryConflicts calls attempt until it returns anything but a conflict (an
// error that wraps ErrConflict), and returns that. A command that lost the
// race for a stream's head is decided again on the state the winner left,
// so racing writers of one stream serialize instead of failing: each round
// has a winner. Pauses between attempts are jittered and grow (5 ms
// doubling to 100 ms), so losers do not collide again in step. Retrying is
// bounded by time, not by a count: after budget (DefaultConflictBudget when
// zero), or a second before ctx's deadline, whichever comes first, the last
// conflict is returned.
func RetryConflicts(ctx context.Context, budget time.Duration, attempt func(n int) error) error {
	return RetryWhile(ctx, budget, func(err error) bool { return errors.Is(err, ErrConflict) }, attempt)
}

// Transient reports whether err is a failure that passes by itself: the
// backend throttled, was unavailable, or left a write's outcome open.
func Transient(err error) bool {
	return errors.Is(err, ErrThrottled) || errors.Is(err, ErrUnavailable) || errors.Is(err, ErrUnknownOutcome)
}

// RetryWhile calls attempt until it returns an error retryable does not
// accept (or nil), and returns that, with RetryConflicts' pauses and time
// bound: after budget (DefaultConflictBudget when zero), or a second
// before ctx's deadline, the last error is returned.
func RetryWhile(ctx context.Context, budget time.Duration, retryable func(error) bool, attempt func(n int) error) error {
	if budget <= 0 {
		budget = DefaultConflictBudget
	}
	stop := time.Now().Add(budget)
	if d, ok := ctx.Deadline(); ok && d.Add(-conflictMargin).Before(stop) {
		stop = d.Add(-conflictMargin)
	}
	for n := 1; ; n++ {
		err := attempt(n)
		if err == nil || !retryable(err) {
			return err
		}
		pause := conflictPause(n)
		if time.Now().Add(pause).After(stop) {
			return err
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// conflictPause is the wait after the nth lost race: full jitter over an
// exponential ceiling.
func conflictPause(n int) time.Duration {
	ceiling := min(5*time.Millisecond<<min(n-1, 5), 100*time.Millisecond)
	return rand.N(ceiling) + time.Millisecond
}
