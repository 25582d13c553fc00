// Package ledger owns the rules of the account aggregate: which commands a
// money account accepts, the events that record what it accepted, and how
// those events fold back into the account's state.
//
// It is pure on purpose: no AWS, no I/O, no clock and no randomness, so that
// every rule can be proved by a given/when/then table and a rebuild from the
// events table can be checked against Fold.
package account
