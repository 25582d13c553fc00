package account

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
)

// TestDecideProperties runs random command sequences from fixed seeds (so a
// failure reproduces) against a model that only adds and subtracts.
func TestDecideProperties(t *testing.T) {
	outcomes := map[string]int{} // proves the walk reaches every rule
	for seed := range uint64(50) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 0x1ed9e7))
			overdraft := rng.Int64N(3) * rng.Int64N(1000) // zero a third of the time
			state := Account{}
			var history []Event
			var sum int64 // deposits minus withdrawals accepted so far

			apply := func(c Command) error {
				before := mustJSON(t, state)
				events, err := Decide(state, c)
				if err != nil {
					if events != nil {
						t.Fatalf("%#v refused with %v but produced %#v", c, err, events)
					}
					return err
				}
				prev := state
				for _, e := range events {
					state = Evolve(state, e)
					history = append(history, e)
				}
				if got := mustJSON(t, prev); got != before {
					t.Fatalf("Evolve modified the previous state: %s, was %s", got, before)
				}
				return nil
			}

			if err := apply(Open{AccountID: "acc", Owner: "Owner", Currency: "USD", OverdraftLimit: overdraft}); err != nil {
				t.Fatal(err)
			}
			if seed%2 == 1 {
				// Near the balance limit, where a large deposit is refused.
				for range 9 {
					if err := apply(Deposit{Amount: MaxAmount}); err != nil {
						t.Fatal(err)
					}
					sum += MaxAmount
				}
			}
			ids := []string{"tr-a", "tr-b", "tr-c"}
			for step := range 200 {
				amount := rng.Int64N(700) // sometimes 0, which must be refused
				if rng.IntN(50) == 0 {
					amount = MaxAmount + rng.Int64N(2)
				}
				var c Command
				switch rng.IntN(6) {
				case 0, 1:
					c = Deposit{Amount: amount, Reference: "d"}
				case 2, 3:
					c = Withdraw{Amount: amount, TransferID: ids[rng.IntN(len(ids))]}
				case 4:
					if rng.IntN(2) == 0 {
						c = BeginTransferOut{TransferID: ids[rng.IntN(len(ids))], Amount: max(amount, 1)}
					} else {
						c = EndTransferOut{TransferID: ids[rng.IntN(len(ids))]}
					}
				case 5:
					if rng.IntN(10) == 0 {
						c = Close{}
					} else {
						c = Withdraw{Amount: min(max(sum, 1), MaxAmount)} // aim at a zero balance
					}
				}
				wasOpen := state.Status == StatusOpen
				var reserved int64 // for the transfers out in flight to come back
				for _, a := range state.TransfersInFlight {
					reserved += a
				}
				err := apply(c)
				outcome := "accepted"
				if err != nil {
					outcome = err.Error()
					if errors.As(err, new(*ValidationError)) {
						outcome = "invalid"
					}
				}
				outcomes[c.CommandType()+": "+outcome]++
				var ve *ValidationError

				switch c := c.(type) {
				case Deposit, Withdraw:
					var delta int64
					if d, ok := c.(Deposit); ok {
						delta = d.Amount
					} else {
						delta = -c.(Withdraw).Amount
					}
					switch {
					case amount < 1 && errors.As(err, &ve), amount > MaxAmount && errors.As(err, &ve):
					case !wasOpen:
						if !errors.Is(err, ErrAccountClosed) {
							t.Fatalf("step %d: %#v on a closed account: %v", step, c, err)
						}
					case sum+delta < -overdraft:
						if !errors.Is(err, ErrInsufficientFunds) {
							t.Fatalf("step %d: %#v from %d (overdraft %d): %v, want ErrInsufficientFunds", step, c, sum, overdraft, err)
						}
					case delta > 0 && sum+delta+reserved > MaxBalance:
						if !errors.Is(err, ErrBalanceLimit) {
							t.Fatalf("step %d: %#v from %d with %d in flight: %v, want ErrBalanceLimit", step, c, sum, reserved, err)
						}
					case err != nil:
						t.Fatalf("step %d: %#v from %d (overdraft %d): %v", step, c, sum, overdraft, err)
					default:
						sum += delta
					}
				case Close:
					wantErr := error(nil)
					switch {
					case !wasOpen:
						wantErr = ErrAccountClosed
					case len(state.TransfersInFlight) > 0:
						wantErr = ErrTransfersInFlight
					case sum != 0:
						wantErr = ErrAccountNotEmpty
					}
					if !errors.Is(err, wantErr) || (wantErr == nil) != (err == nil) {
						t.Fatalf("step %d: close at %d with %v in flight: %v, want %v", step, sum, state.TransfersInFlight, err, wantErr)
					}
				}

				if state.Balance != sum {
					t.Fatalf("step %d: balance %d, want deposits minus withdrawals %d", step, state.Balance, sum)
				}
				if state.Balance < -overdraft {
					t.Fatalf("step %d: balance %d below the overdraft limit %d", step, state.Balance, overdraft)
				}
				if state.Balance > MaxBalance {
					t.Fatalf("step %d: balance %d past the limit", step, state.Balance)
				}
			}
			if folded := Fold(history); !reflect.DeepEqual(folded, state) {
				t.Fatalf("Fold(history) = %#v\nstep by step  %#v", folded, state)
			}
		})
	}
	for _, want := range []string{
		"Deposit: accepted", "Deposit: invalid", "Deposit: " + ErrAccountClosed.Error(), "Deposit: " + ErrBalanceLimit.Error(),
		"Withdraw: accepted", "Withdraw: invalid", "Withdraw: " + ErrInsufficientFunds.Error(),
		"Close: accepted", "Close: " + ErrAccountNotEmpty.Error(), "Close: " + ErrTransfersInFlight.Error(),
		"BeginTransferOut: accepted", "EndTransferOut: accepted",
	} {
		if outcomes[want] == 0 {
			t.Errorf("no random sequence reached %q; outcomes: %v", want, outcomes)
		}
	}
}
