package transfer

import (
	"errors"
	"reflect"
	"testing"

	"annals/internal/ledger/account"
)

// stepScenario is one given/when/then case of the process manager's steps:
// the transfer's history and both accounts', then the step the transfer
// takes next, or the error that stops it.
type stepScenario struct {
	name           string
	given          []Event
	givenFrom      []account.Event
	givenTo        []account.Event
	then           Step
	thenErr        error
	thenNoNextStep bool
}

var (
	requested = Requested{TransferID: "tr-1", FromAccountID: "acc-a", ToAccountID: "acc-b", Amount: 300, Currency: "EUR", Reference: "rent"}
	openedA   = account.AccountOpened{AccountID: "acc-a", Owner: "Ada", Currency: "EUR"}
	openedB   = account.AccountOpened{AccountID: "acc-b", Owner: "Grace", Currency: "EUR"}
	// a's history once the transfer has debited it: 500 in, 300 out.
	debitedA = []account.Event{
		openedA, account.MoneyDeposited{Amount: 500, BalanceAfter: 500},
		account.TransferOutBegun{TransferID: "tr-1", Amount: 300},
		account.MoneyWithdrawn{Amount: 300, Reference: "rent", TransferID: "tr-1", Channel: account.ChannelTransfer, BalanceAfter: 200},
	}
	paid     = account.MoneyDeposited{Amount: 300, Reference: "rent", TransferID: "tr-1", Channel: account.ChannelTransfer, BalanceAfter: 300}
	settled  = account.TransferOutEnded{TransferID: "tr-1"}
	refunded = account.MoneyDeposited{Amount: 300, Reference: "rent", TransferID: "tr-1", Channel: account.ChannelTransfer, BalanceAfter: 500}
)

func accountEvents(events ...account.Event) []account.Event { return events }

func TestSteps(t *testing.T) {
	scenarios := []stepScenario{
		// The debit.
		{
			name:      "a requested transfer debits the source and marks it in flight",
			given:     []Event{requested},
			givenFrom: accountEvents(openedA, account.MoneyDeposited{Amount: 500, BalanceAfter: 500}),
			givenTo:   accountEvents(openedB),
			then: Step{Name: StepDebit, Progress: Debited{}, From: accountEvents(
				account.TransferOutBegun{TransferID: "tr-1", Amount: 300},
				account.MoneyWithdrawn{Amount: 300, Reference: "rent", TransferID: "tr-1", Channel: account.ChannelTransfer, BalanceAfter: 200})},
		},
		{
			name:      "the source's overdraft counts",
			given:     []Event{requested},
			givenFrom: accountEvents(account.AccountOpened{AccountID: "acc-a", Owner: "Ada", Currency: "EUR", OverdraftLimit: 300}),
			then: Step{Name: StepDebit, Progress: Debited{}, From: accountEvents(
				account.TransferOutBegun{TransferID: "tr-1", Amount: 300},
				account.MoneyWithdrawn{Amount: 300, Reference: "rent", TransferID: "tr-1", Channel: account.ChannelTransfer, BalanceAfter: -300})},
		},
		{
			name:      "a source short of funds fails the transfer, nothing moved",
			given:     []Event{requested},
			givenFrom: accountEvents(openedA, account.MoneyDeposited{Amount: 299, BalanceAfter: 299}),
			then:      Step{Name: StepFail, Progress: Failed{Reason: ReasonInsufficientFunds}},
		},
		{
			name:      "a source closed since the request fails it",
			given:     []Event{requested},
			givenFrom: accountEvents(openedA, account.AccountClosed{}),
			then:      Step{Name: StepFail, Progress: Failed{Reason: ReasonAccountClosed}},
		},
		{
			name:  "a source that does not exist fails it",
			given: []Event{requested},
			then:  Step{Name: StepFail, Progress: Failed{Reason: ReasonAccountNotFound}},
		},
		{
			name:      "a source in another currency fails it",
			given:     []Event{requested},
			givenFrom: accountEvents(account.AccountOpened{AccountID: "acc-a", Owner: "Ada", Currency: "USD"}, account.MoneyDeposited{Amount: 500, BalanceAfter: 500}),
			then:      Step{Name: StepFail, Progress: Failed{Reason: ReasonCurrencyMismatch}},
		},
		{
			name:      "a transfer to its own source fails as invalid",
			given:     []Event{Requested{TransferID: "tr-1", FromAccountID: "acc-a", ToAccountID: "acc-a", Amount: 300, Currency: "EUR"}},
			givenFrom: accountEvents(openedA, account.MoneyDeposited{Amount: 500, BalanceAfter: 500}),
			then:      Step{Name: StepFail, Progress: Failed{Reason: ReasonInvalid}},
		},
		{
			name:      "a debit seen again (its guard lost) begins nothing twice",
			given:     []Event{requested},
			givenFrom: accountEvents(openedA, account.MoneyDeposited{Amount: 800, BalanceAfter: 800}, account.TransferOutBegun{TransferID: "tr-1", Amount: 300}),
			then: Step{Name: StepDebit, Progress: Debited{}, From: accountEvents(
				account.MoneyWithdrawn{Amount: 300, Reference: "rent", TransferID: "tr-1", Channel: account.ChannelTransfer, BalanceAfter: 500})},
		},

		// The credit.
		{
			name:      "a debited transfer pays the destination and settles the source",
			given:     []Event{requested, Debited{}},
			givenFrom: debitedA,
			givenTo:   accountEvents(openedB),
			then:      Step{Name: StepCredit, Progress: Completed{}, From: accountEvents(settled), To: accountEvents(paid)},
		},
		{
			name:      "a destination closed since the request refunds the source",
			given:     []Event{requested, Debited{}},
			givenFrom: debitedA,
			givenTo:   accountEvents(openedB, account.AccountClosed{}),
			then:      Step{Name: StepRefund, Progress: Failed{Reason: ReasonAccountClosed, Refunded: true}, From: accountEvents(refunded, settled)},
		},
		{
			name:      "a destination that does not exist refunds the source",
			given:     []Event{requested, Debited{}},
			givenFrom: debitedA,
			then:      Step{Name: StepRefund, Progress: Failed{Reason: ReasonAccountNotFound, Refunded: true}, From: accountEvents(refunded, settled)},
		},
		{
			name:      "a destination in another currency refunds the source",
			given:     []Event{requested, Debited{}},
			givenFrom: debitedA,
			givenTo:   accountEvents(account.AccountOpened{AccountID: "acc-b", Owner: "Grace", Currency: "USD"}),
			then:      Step{Name: StepRefund, Progress: Failed{Reason: ReasonCurrencyMismatch, Refunded: true}, From: accountEvents(refunded, settled)},
		},
		{
			name:      "a destination the amount takes up to the balance limit is paid",
			given:     []Event{requested, Debited{}},
			givenFrom: debitedA,
			givenTo:   accountEvents(openedB, account.MoneyDeposited{Amount: account.MaxBalance - 300, BalanceAfter: account.MaxBalance - 300}),
			then: Step{Name: StepCredit, Progress: Completed{}, From: accountEvents(settled),
				To: accountEvents(account.MoneyDeposited{Amount: 300, Reference: "rent", TransferID: "tr-1", Channel: account.ChannelTransfer, BalanceAfter: account.MaxBalance})},
		},
		{
			name:      "a destination the amount would take past the balance limit refunds the source",
			given:     []Event{requested, Debited{}},
			givenFrom: debitedA,
			givenTo:   accountEvents(openedB, account.MoneyDeposited{Amount: account.MaxBalance - 299, BalanceAfter: account.MaxBalance - 299}),
			then:      Step{Name: StepRefund, Progress: Failed{Reason: ReasonBalanceLimit, Refunded: true}, From: accountEvents(refunded, settled)},
		},
		{
			name:      "a destination the amount would overflow refunds the source",
			given:     []Event{requested, Debited{}},
			givenFrom: debitedA,
			givenTo:   accountEvents(openedB, account.MoneyDeposited{Amount: 1 << 62, BalanceAfter: 1<<63 - 1}),
			then:      Step{Name: StepRefund, Progress: Failed{Reason: ReasonAmountOverflow, Refunded: true}, From: accountEvents(refunded, settled)},
		},
		{
			name:    "a debited transfer whose source is gone stops with an error",
			given:   []Event{requested, Debited{}},
			givenTo: accountEvents(openedB),
			thenErr: account.ErrAccountNotFound,
		},

		// No step.
		{
			name:           "a completed transfer takes no step",
			given:          []Event{requested, Debited{}, Completed{}},
			thenNoNextStep: true,
		},
		{
			name:           "a failed transfer takes no step",
			given:          []Event{requested, Failed{Reason: ReasonInsufficientFunds}},
			thenNoNextStep: true,
		},
		{
			name:           "a transfer never requested takes no step",
			thenNoNextStep: true,
		},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			var tr Transfer
			for _, e := range sc.given {
				tr = Evolve(tr, e)
			}
			from, to := fold(sc.givenFrom), fold(sc.givenTo)
			next := tr.Next()
			if sc.thenNoNextStep {
				if next != "" {
					t.Fatalf("next step %q, want none", next)
				}
				return
			}
			var (
				got Step
				err error
			)
			switch next {
			case StepDebit:
				got, err = Debit(tr, from)
			case StepCredit:
				got, err = Credit(tr, from, to)
			default:
				t.Fatalf("next step %q of a pending transfer", next)
			}
			if sc.thenErr != nil {
				if !errors.Is(err, sc.thenErr) {
					t.Fatalf("got %+v, %v; want error %v", got, err, sc.thenErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if !reflect.DeepEqual(got, sc.then) {
				t.Errorf("step\n got %+v\nwant %+v", got, sc.then)
			}
			// The step's events apply to the accounts as they stand.
			for _, e := range got.From {
				from = account.Evolve(from, e)
			}
			if got.Name != StepFail && from.Balance < -from.OverdraftLimit {
				t.Errorf("the source ends at %d, below its overdraft limit %d", from.Balance, from.OverdraftLimit)
			}
		})
	}
}

func fold(events []account.Event) account.Account {
	var a account.Account
	for _, e := range events {
		a = account.Evolve(a, e)
	}
	return a
}

// Whatever the step, the money the two accounts hold together and the
// amount in flight add up: a debit moves the amount into flight, a credit
// or a refund out of it.
func TestStepsMoveNoMoneyInOrOut(t *testing.T) {
	tr := Evolve(Transfer{}, requested)
	from := fold(accountEvents(openedA, account.MoneyDeposited{Amount: 500, BalanceAfter: 500}))
	to := fold(accountEvents(openedB))
	total := from.Balance + to.Balance
	for _, closeTo := range []bool{false, true} {
		t.Run(map[bool]string{false: "completed", true: "refunded"}[closeTo], func(t *testing.T) {
			tr, from, to := tr, from, to
			if closeTo {
				to = account.Evolve(to, account.AccountClosed{})
			}
			for step := 0; tr.Next() != ""; step++ {
				if step > 2 {
					t.Fatal("the transfer does not end")
				}
				var s Step
				var err error
				if tr.Next() == StepDebit {
					s, err = Debit(tr, from)
				} else {
					s, err = Credit(tr, from, to)
				}
				if err != nil {
					t.Fatal(err)
				}
				tr = Evolve(tr, s.Progress)
				for _, e := range s.From {
					from = account.Evolve(from, e)
				}
				for _, e := range s.To {
					to = account.Evolve(to, e)
				}
				inFlight := int64(0)
				if tr.Debited && !tr.Terminal() {
					inFlight = tr.Amount
				}
				if got := from.Balance + to.Balance + inFlight; got != total {
					t.Fatalf("after %s: %d held and in flight, want %d", s.Name, got, total)
				}
			}
			if len(from.TransfersInFlight) != 0 {
				t.Errorf("the source still has %v in flight", from.TransfersInFlight)
			}
		})
	}
}
