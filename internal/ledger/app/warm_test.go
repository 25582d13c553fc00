package app_test

import (
	"errors"
	"testing"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/personal"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
)

// A command on an account the instance has seen is its conditional write
// alone; a refusal the instance's stale state would give is decided again
// on the account as it is.
func TestWarmCommandIsOneWrite(t *testing.T) {
	backend := eventstore.NewMemoryBackend()
	instance := func() *app.Commands {
		return app.NewCommands(eventstore.New(backend, eventstore.WithCache(eventstore.NewCache(1<<20))), personal.NewVault(personal.NewMemoryKeys()), 0)
	}
	warm, other := instance(), instance()
	run := func(c *app.Commands, cmd account.Command) (app.AccountResult, eventstore.Usage, error) {
		m := &eventstore.Meter{}
		res, err := c.Execute(eventstore.WithMeter(t.Context(), m), app.AccountCommand{Tenant: "t1", AccountID: "acc-1", Command: cmd})
		return res, m.Usage(), err
	}
	if _, _, err := run(warm, account.Open{AccountID: "acc-1", Owner: "alice", Currency: "EUR"}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		res, u, err := run(warm, account.Deposit{Amount: 100})
		if err != nil || res.Account.Balance != int64(100*(i+1)) {
			t.Fatalf("deposit %d: balance %d, %v", i, res.Account.Balance, err)
		}
		if u.Total() != 1 || u.Requests["PutItem"] != 1 || u.ReadUnits != 0 {
			t.Errorf("a warm deposit cost %v and %v read units, want one PutItem", u.Requests, u.ReadUnits)
		}
	}
	// Another instance moves the account; the warm one's state (300) would
	// refuse a withdrawal of 400, the account (1,300) does not.
	if _, _, err := run(other, account.Deposit{Amount: 1000}); err != nil {
		t.Fatal(err)
	}
	res, _, err := run(warm, account.Withdraw{Amount: 400})
	if err != nil || res.Account.Balance != 900 || res.Version != 6 {
		t.Fatalf("a withdrawal the stale state would refuse: balance %d at %d, %v; want 900 at 6", res.Account.Balance, res.Version, err)
	}
	// And one the account refuses is refused, after a read.
	_, u, err := run(warm, account.Withdraw{Amount: 5000})
	var refusal *account.Refusal
	if !errors.As(err, &refusal) || u.Requests["Query"] != 1 || u.Requests["PutItem"] != 0 {
		t.Errorf("a withdrawal over the balance: %v after %v, want a refusal after one load", err, u.Requests)
	}
}
