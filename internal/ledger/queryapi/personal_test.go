package queryapi_test

import (
	"strings"
	"testing"

	"annals/internal/ledger/account"
)

// Text that only looks sealed (an owner recorded in the clear before
// owners were sealed, a client's reference or correlation id) is shown as
// it is: an answer is never a 500 for what a client wrote.
func TestTextThatLooksSealedIsShownAsItIs(t *testing.T) {
	f := newFixture(t)
	a := f.open(t, "t1", "acc-1", "pd1:client:chosen")
	a.commit(t, account.MoneyDeposited{Amount: 5, Reference: "pd1:acc-1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", BalanceAfter: 5})
	a.project(t)
	for _, p := range []string{"/accounts/acc-1", "/accounts/acc-1/events", "/accounts/acc-1/transactions"} {
		b := f.do(t, req{path: p})
		if b.StatusCode != 200 || !strings.Contains(b.Body, "pd1:") {
			t.Errorf("GET %s: %d %s", p, b.StatusCode, b.Body)
		}
	}
}
