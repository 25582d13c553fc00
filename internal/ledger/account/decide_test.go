package account

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

// scenario is one given/when/then case: the history, the command, and either
// the events it must produce or the error it must be refused with.
type scenario struct {
	name       string
	given      []Event
	when       Command
	then       []Event
	thenErr    error
	thenFields []FieldError
}

func given(events ...Event) []Event { return events }
func then(events ...Event) []Event  { return events }

var (
	opened       = AccountOpened{AccountID: "acc-1", DataSubject: "acc-1", Owner: "Ada Lovelace", Currency: "EUR", OverdraftLimit: 100}
	openedNoOver = AccountOpened{AccountID: "acc-2", DataSubject: "acc-2", Owner: "Grace Hopper", Currency: "JPY"}
	closed       = AccountClosed{}
)

func deposited(amount, after int64) MoneyDeposited {
	return MoneyDeposited{Amount: amount, Channel: ChannelUnknown, BalanceAfter: after}
}

func withdrawn(amount, after int64) MoneyWithdrawn {
	return MoneyWithdrawn{Amount: amount, Channel: ChannelUnknown, BalanceAfter: after}
}

func field(name, message string) FieldError { return FieldError{Field: name, Message: message} }

func TestDecide(t *testing.T) {
	long := strings.Repeat("x", 201)
	exactly200 := strings.Repeat("é", 100)
	tooBig := "must be at most 1000000000000000"

	scenarios := []scenario{
		// Open
		{
			name: "open a new account",
			when: Open{AccountID: "acc-1", Owner: "Ada Lovelace", Currency: "EUR", OverdraftLimit: 100},
			then: then(opened),
		},
		{
			name: "open trims the owner and defaults to no overdraft",
			when: Open{AccountID: "acc-2", Owner: "  Grace Hopper\t", Currency: "JPY"},
			then: then(openedNoOver),
		},
		{
			name: "open with the largest overdraft and a 200-byte owner",
			when: Open{AccountID: "a", Owner: exactly200, Currency: "BHD", OverdraftLimit: MaxAmount},
			then: then(AccountOpened{AccountID: "a", DataSubject: "a", Owner: exactly200, Currency: "BHD", OverdraftLimit: MaxAmount}),
		},
		{
			name:    "open an account that exists",
			given:   given(opened),
			when:    Open{AccountID: "acc-1", Owner: "Ada", Currency: "EUR"},
			thenErr: ErrAccountExists,
		},
		{
			name:    "open an account that exists and is closed",
			given:   given(opened, closed),
			when:    Open{AccountID: "acc-1", Owner: "Ada", Currency: "EUR"},
			thenErr: ErrAccountExists,
		},
		{
			name: "open lists every invalid field at once",
			when: Open{Owner: " \t ", Currency: "usd", OverdraftLimit: -1},
			thenFields: []FieldError{
				field("accountId", "is required"),
				field("owner", "is required"),
				field("currency", "must be an ISO 4217 code of three upper-case letters"),
				field("overdraftLimit", "must be at least 0"),
			},
		},
		{
			name:  "open validates before looking at the state",
			given: given(opened),
			when:  Open{AccountID: "acc-1", Owner: long, Currency: "XYZ", OverdraftLimit: MaxAmount + 1},
			thenFields: []FieldError{
				field("owner", "must be at most 200 bytes"),
				field("currency", "is not an active ISO 4217 currency"),
				field("overdraftLimit", tooBig),
			},
		},
		{
			name:       "open refuses an owner with a control character",
			when:       Open{AccountID: "a", Owner: "Ada\nLovelace", Currency: "EUR"},
			thenFields: []FieldError{field("owner", "must not contain control characters")},
		},
		{
			name:       "open refuses an owner that is not UTF-8",
			when:       Open{AccountID: "a", Owner: "Ada \xff", Currency: "EUR"},
			thenFields: []FieldError{field("owner", "must be valid UTF-8")},
		},
		{
			name:       "open refuses an owner that reads reversed",
			when:       Open{AccountID: "a", Owner: "Ada \u202eecalevoL", Currency: "EUR"},
			thenFields: []FieldError{field("owner", "must not contain bidirectional formatting characters (U+202E)")},
		},
		{
			name:       "open refuses an owner with an invisible character",
			when:       Open{AccountID: "a", Owner: "A\u200bda", Currency: "EUR"},
			thenFields: []FieldError{field("owner", "must not contain zero-width characters (U+200B)")},
		},
		{
			name:       "open refuses a missing currency",
			when:       Open{AccountID: "a", Owner: "Ada"},
			thenFields: []FieldError{field("currency", "is required")},
		},
		{
			name:       "open refuses a four-letter currency",
			when:       Open{AccountID: "a", Owner: "Ada", Currency: "EURO"},
			thenFields: []FieldError{field("currency", "must be an ISO 4217 code of three upper-case letters")},
		},
		{
			name:       "open refuses a withdrawn currency",
			when:       Open{AccountID: "a", Owner: "Ada", Currency: "HRK"},
			thenFields: []FieldError{field("currency", "is not an active ISO 4217 currency")},
		},

		// Deposit
		{
			name:  "deposit",
			given: given(opened),
			when:  Deposit{Amount: 250, Reference: "salary"},
			then:  then(MoneyDeposited{Amount: 250, Reference: "salary", Channel: ChannelUnknown, BalanceAfter: 250}),
		},
		{
			name:  "deposit the credit leg of a transfer",
			given: given(opened, deposited(10, 10)),
			when:  Deposit{Amount: MaxAmount, TransferID: "tr-1"},
			then:  then(MoneyDeposited{Amount: MaxAmount, TransferID: "tr-1", Channel: ChannelTransfer, BalanceAfter: MaxAmount + 10}),
		},
		{
			name:  "deposit on a channel, from a counterparty",
			given: given(opened),
			when:  Deposit{Amount: 5, Channel: ChannelCard, Counterparty: "Café Zoë"},
			then:  then(MoneyDeposited{Amount: 5, Channel: ChannelCard, Counterparty: "Café Zoë", BalanceAfter: 5}),
		},
		{
			name:  "withdraw in cash",
			given: given(opened, deposited(10, 10)),
			when:  Withdraw{Amount: 5, Channel: ChannelCash},
			then:  then(MoneyWithdrawn{Amount: 5, Channel: ChannelCash, BalanceAfter: 5}),
		},
		{
			name:  "a channel that is none, a counterparty that is no text, a leg not on the transfer channel",
			given: given(opened),
			when:  Deposit{Amount: 5, Channel: "pigeon", Counterparty: "a\u202eb"},
			thenFields: []FieldError{
				field("counterparty", TextProblem("a\u202eb", false)),
				field("channel", "must be one of cash, card, transfer, unknown"),
			},
		},
		{
			name:       "a transfer's leg on another channel",
			given:      given(opened, deposited(10, 10)),
			when:       Withdraw{Amount: 5, TransferID: "tr-1", Channel: ChannelCard},
			thenFields: []FieldError{field("channel", "must be transfer for a transfer's leg")},
		},
		{
			name:  "deposit up to the balance limit",
			given: given(opened, deposited(1, MaxBalance-10)),
			when:  Deposit{Amount: 10},
			then:  then(deposited(10, MaxBalance)),
		},
		{
			name:    "deposit one past the balance limit",
			given:   given(opened, deposited(1, MaxBalance-10)),
			when:    Deposit{Amount: 11},
			thenErr: ErrBalanceLimit,
		},
		{
			name:    "deposit past the balance limit, the credit leg of a transfer too",
			given:   given(opened, deposited(1, MaxBalance)),
			when:    Deposit{Amount: 1, TransferID: "tr-9"},
			thenErr: ErrBalanceLimit,
		},
		{
			name:    "deposit into a balance recorded near int64's limit",
			given:   given(opened, deposited(1, math.MaxInt64-10)),
			when:    Deposit{Amount: 11},
			thenErr: ErrOverflow,
		},
		{
			name:    "deposit that would take the room a transfer out in flight needs to come back",
			given:   given(opened, deposited(1, MaxBalance-100), TransferOutBegun{TransferID: "tr-1", Amount: 50}, withdrawn(50, MaxBalance-150)),
			when:    Deposit{Amount: 101},
			thenErr: ErrBalanceLimit,
		},
		{
			name:  "deposit that leaves the room",
			given: given(opened, deposited(1, MaxBalance-100), TransferOutBegun{TransferID: "tr-1", Amount: 50}, withdrawn(50, MaxBalance-150)),
			when:  Deposit{Amount: 100},
			then:  then(deposited(100, MaxBalance-50)),
		},
		{
			name:  "the refund of a transfer out in flight always lands",
			given: given(opened, deposited(1, MaxBalance-100), TransferOutBegun{TransferID: "tr-1", Amount: 50}, withdrawn(50, MaxBalance-150), deposited(100, MaxBalance-50)),
			when:  Deposit{Amount: 50, TransferID: "tr-1"},
			then:  then(MoneyDeposited{Amount: 50, TransferID: "tr-1", Channel: ChannelTransfer, BalanceAfter: MaxBalance}),
		},
		{
			name:    "deposit into no account",
			when:    Deposit{Amount: 1},
			thenErr: ErrAccountNotFound,
		},
		{
			name: "open for a named data subject",
			when: Open{AccountID: "acc-3", DataSubject: "cust-42", Owner: "Ada", Currency: "EUR"},
			then: then(AccountOpened{AccountID: "acc-3", DataSubject: "cust-42", Owner: "Ada", Currency: "EUR"}),
		},
		{
			name: "open for a data subject no key can name",
			when: Open{AccountID: "acc-3", DataSubject: "Ada Lovelace", Owner: "Ada", Currency: "EUR"},
			thenFields: []FieldError{
				field("dataSubject", "may hold only letters, digits and . _ - @ +"),
			},
		},
		{
			name:  "a transfer's leg carries the transfer's stored reference as it is",
			given: given(opened),
			when:  Deposit{Amount: 5, Reference: long, TransferID: "tr-1"},
			then:  then(MoneyDeposited{Amount: 5, Reference: long, TransferID: "tr-1", Channel: ChannelTransfer, BalanceAfter: 5}),
		},
		{
			name:  "deposit lists every invalid field at once",
			given: given(opened),
			when:  Deposit{Amount: 0, Reference: long, Counterparty: "t\x00"},
			thenFields: []FieldError{
				field("amount", "must be at least 1"),
				field("reference", "must be at most 200 bytes"),
				field("counterparty", "must not contain control characters"),
			},
		},
		{
			name:       "deposit a negative amount",
			given:      given(opened),
			when:       Deposit{Amount: -5},
			thenFields: []FieldError{field("amount", "must be at least 1")},
		},
		{
			name:       "deposit more than the largest amount",
			given:      given(opened),
			when:       Deposit{Amount: MaxAmount + 1},
			thenFields: []FieldError{field("amount", tooBig)},
		},

		// Withdraw
		{
			name:  "withdraw within the balance",
			given: given(opened, deposited(500, 500)),
			when:  Withdraw{Amount: 200, Reference: "rent"},
			then:  then(MoneyWithdrawn{Amount: 200, Reference: "rent", Channel: ChannelUnknown, BalanceAfter: 300}),
		},
		{
			name:  "withdraw down to exactly minus the overdraft limit",
			given: given(opened),
			when:  Withdraw{Amount: 100},
			then:  then(withdrawn(100, -100)),
		},
		{
			name:    "withdraw one below minus the overdraft limit",
			given:   given(opened),
			when:    Withdraw{Amount: 101},
			thenErr: ErrInsufficientFunds,
		},
		{
			name:    "withdraw from an account already at its overdraft limit",
			given:   given(opened, deposited(50, 50), withdrawn(150, -100)),
			when:    Withdraw{Amount: 1},
			thenErr: ErrInsufficientFunds,
		},
		{
			name:  "withdraw everything without an overdraft",
			given: given(openedNoOver, deposited(70, 70)),
			when:  Withdraw{Amount: 70},
			then:  then(withdrawn(70, 0)),
		},
		{
			name:    "withdraw more than the balance without an overdraft",
			given:   given(openedNoOver, deposited(70, 70)),
			when:    Withdraw{Amount: 71},
			thenErr: ErrInsufficientFunds,
		},
		{
			name:  "withdraw the debit leg of a transfer",
			given: given(opened, deposited(70, 70), TransferOutBegun{TransferID: "tr-1", Amount: 70}),
			when:  Withdraw{Amount: 70, TransferID: "tr-1"},
			then:  then(MoneyWithdrawn{Amount: 70, TransferID: "tr-1", Channel: ChannelTransfer, BalanceAfter: 0}),
		},
		{
			name:  "withdraw down to minus the balance limit (an overdraft limit recorded before it)",
			given: given(AccountOpened{AccountID: "acc-1", Owner: "Ada", Currency: "EUR", OverdraftLimit: math.MaxInt64}, withdrawn(1, -MaxBalance+5)),
			when:  Withdraw{Amount: 5},
			then:  then(withdrawn(5, -MaxBalance)),
		},
		{
			name:    "withdraw one past minus the balance limit",
			given:   given(AccountOpened{AccountID: "acc-1", Owner: "Ada", Currency: "EUR", OverdraftLimit: math.MaxInt64}, withdrawn(1, -MaxBalance+5)),
			when:    Withdraw{Amount: 6},
			thenErr: ErrBalanceLimit,
		},
		{
			name:    "withdraw that would overflow the balance",
			given:   given(opened, withdrawn(1, -math.MaxInt64+5)),
			when:    Withdraw{Amount: 6},
			thenErr: ErrOverflow,
		},
		{
			name:    "withdraw from no account",
			when:    Withdraw{Amount: 1},
			thenErr: ErrAccountNotFound,
		},
		{
			name:  "withdraw lists every invalid field at once",
			given: given(opened),
			when:  Withdraw{Amount: MaxAmount + 1, Reference: "\xfe", Counterparty: long},
			thenFields: []FieldError{
				field("amount", tooBig),
				field("reference", "must be valid UTF-8"),
				field("counterparty", "must be at most 200 bytes"),
			},
		},

		// Close
		{
			name:  "close at a zero balance",
			given: given(opened, deposited(10, 10), withdrawn(10, 0)),
			when:  Close{},
			then:  then(closed),
		},
		{
			name:    "close with money in the account",
			given:   given(opened, deposited(10, 10)),
			when:    Close{},
			thenErr: ErrAccountNotEmpty,
		},
		{
			name:    "close while overdrawn",
			given:   given(opened, withdrawn(10, -10)),
			when:    Close{},
			thenErr: ErrAccountNotEmpty,
		},
		{
			name:    "close with a transfer in flight",
			given:   given(opened, TransferOutBegun{TransferID: "tr-1", Amount: 5}),
			when:    Close{},
			thenErr: ErrTransfersInFlight,
		},
		{
			name:    "close with a transfer in flight and money in the account",
			given:   given(opened, deposited(5, 5), TransferOutBegun{TransferID: "tr-1", Amount: 5}),
			when:    Close{},
			thenErr: ErrTransfersInFlight,
		},
		{
			name: "close after the transfer ended",
			given: given(opened, deposited(5, 5), TransferOutBegun{TransferID: "tr-1", Amount: 5},
				MoneyWithdrawn{Amount: 5, TransferID: "tr-1"}, TransferOutEnded{TransferID: "tr-1"}),
			when: Close{},
			then: then(closed),
		},
		{
			name:    "close no account",
			when:    Close{},
			thenErr: ErrAccountNotFound,
		},

		// BeginTransferOut
		{
			name:  "begin a transfer out",
			given: given(opened),
			when:  BeginTransferOut{TransferID: "tr-1", Amount: 40},
			then:  then(TransferOutBegun{TransferID: "tr-1", Amount: 40}),
		},
		{
			name:  "begin a transfer out larger than the funds: the debit is checked, not the intent",
			given: given(openedNoOver),
			when:  BeginTransferOut{TransferID: "tr-1", Amount: 500},
			then:  then(TransferOutBegun{TransferID: "tr-1", Amount: 500}),
		},
		{
			name:  "begin a second transfer out",
			given: given(opened, TransferOutBegun{TransferID: "tr-1", Amount: 40}),
			when:  BeginTransferOut{TransferID: "tr-2", Amount: 7},
			then:  then(TransferOutBegun{TransferID: "tr-2", Amount: 7}),
		},
		{
			name:  "begin a transfer out already in flight changes nothing",
			given: given(opened, TransferOutBegun{TransferID: "tr-1", Amount: 40}),
			when:  BeginTransferOut{TransferID: "tr-1", Amount: 40},
			then:  nil,
		},
		{
			name:  "begin a transfer out lists every invalid field at once",
			given: given(opened),
			when:  BeginTransferOut{Amount: 0},
			thenFields: []FieldError{
				field("transferId", "is required"),
				field("amount", "must be at least 1"),
			},
		},
		{
			name:    "begin a transfer out of no account",
			when:    BeginTransferOut{TransferID: "tr-1", Amount: 1},
			thenErr: ErrAccountNotFound,
		},

		// EndTransferOut
		{
			name:  "end a transfer out",
			given: given(opened, TransferOutBegun{TransferID: "tr-1", Amount: 40}),
			when:  EndTransferOut{TransferID: "tr-1"},
			then:  then(TransferOutEnded{TransferID: "tr-1"}),
		},
		{
			name:  "end an unknown transfer out changes nothing",
			given: given(opened, TransferOutBegun{TransferID: "tr-1", Amount: 40}),
			when:  EndTransferOut{TransferID: "tr-2"},
			then:  nil,
		},
		{
			name:  "end a transfer out twice changes nothing",
			given: given(opened, TransferOutBegun{TransferID: "tr-1", Amount: 40}, TransferOutEnded{TransferID: "tr-1"}),
			when:  EndTransferOut{TransferID: "tr-1"},
			then:  nil,
		},
		{
			name:       "end a transfer out without an id",
			given:      given(opened),
			when:       EndTransferOut{},
			thenFields: []FieldError{field("transferId", "is required")},
		},
		{
			name:    "end a transfer out of no account",
			when:    EndTransferOut{TransferID: "tr-1"},
			thenErr: ErrAccountNotFound,
		},
	}

	// Every command but Open is refused on a closed account.
	for _, c := range []Command{
		Deposit{Amount: 1},
		Withdraw{Amount: 1},
		Close{},
		BeginTransferOut{TransferID: "tr-9", Amount: 1},
		EndTransferOut{TransferID: "tr-9"},
	} {
		scenarios = append(scenarios, scenario{
			name:    c.CommandType() + " on a closed account",
			given:   given(opened, closed),
			when:    c,
			thenErr: ErrAccountClosed,
		})
	}

	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			state := Fold(sc.given)
			before := mustJSON(t, state)

			got, err := Decide(state, sc.when)

			if after := mustJSON(t, state); after != before {
				t.Errorf("Decide modified its input state:\nbefore %s\nafter  %s", before, after)
			}
			switch {
			case sc.thenFields != nil:
				var ve *ValidationError
				if !errors.As(err, &ve) {
					t.Fatalf("got events %#v, error %v; want a *ValidationError", got, err)
				}
				if !reflect.DeepEqual(ve.Fields, sc.thenFields) {
					t.Errorf("field errors\n got %#v\nwant %#v", ve.Fields, sc.thenFields)
				}
			case sc.thenErr != nil:
				if !errors.Is(err, sc.thenErr) {
					t.Fatalf("got events %#v, error %v; want error %v", got, err, sc.thenErr)
				}
			default:
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if !reflect.DeepEqual(got, sc.then) {
					t.Errorf("events\n got %#v\nwant %#v", got, sc.then)
				}
			}
			if err != nil && got != nil {
				t.Errorf("refused command still produced events %#v", got)
			}
		})
	}
}

func TestDecideUnknownCommand(t *testing.T) {
	for _, c := range []Command{nil, foreignCommand{}} {
		if got, err := Decide(Fold(given(opened)), c); err == nil {
			t.Errorf("Decide(%#v) = %#v, nil; want an error", c, got)
		}
	}
}

type foreignCommand struct{}

func (foreignCommand) CommandType() string { return "Foreign" }

// Free text refuses each character of the classes that hide what it says,
// and takes their neighbours.
func TestTextProblem(t *testing.T) {
	refused := map[string][]rune{
		"must not contain control characters":                  {0x00, 0x1f, 0x7f, 0x85, 0x9f},
		"must not contain bidirectional formatting characters": {0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069, 0x200e, 0x200f, 0x061c},
		"must not contain zero-width characters":               {0x200b, 0x200c, 0x200d, 0x2060, 0xfeff},
	}
	for want, runes := range refused {
		for _, r := range runes {
			if got := TextProblem("ab"+string(r)+"cd", false); !strings.HasPrefix(got, want) {
				t.Errorf("U+%04X: %q, want %q", r, got, want)
			}
		}
	}
	for _, r := range []rune{0x061b, 0x061d, 0x200a, 0x2010, 0x2027, 0x202f, 0x205f, 0x2061, 0x2065, 0x206a, 0xfefe, 0xff01, 0x1f600} {
		if got := TextProblem("ab"+string(r)+"cd", false); got != "" {
			t.Errorf("U+%04X refused: %q", r, got)
		}
	}
	if got := TextProblem("ab\xffcd", false); got != "must be valid UTF-8" {
		t.Errorf("invalid UTF-8: %q", got)
	}
}

func TestValidationErrorMessage(t *testing.T) {
	_, err := Decide(Account{}, Open{AccountID: "a", Currency: "eur"})
	want := "invalid command: owner is required; currency must be an ISO 4217 code of three upper-case letters"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
}

func TestCurrency(t *testing.T) {
	for _, tc := range []struct {
		code  Currency
		valid bool
		minor int
	}{
		{"USD", true, 2},
		{"EUR", true, 2},
		{"GBP", true, 2},
		{"CHF", true, 2},
		{"JPY", true, 0},
		{"KRW", true, 0},
		{"BHD", true, 3},
		{"KWD", true, 3},
		{"CLF", true, 4},
		{"usd", false, 0},
		{"Usd", false, 0},
		{"XYZ", false, 0},
		{"EURO", false, 0},
		{"EU", false, 0},
		{"", false, 0},
		{"XAU", false, 0}, // gold has no minor unit
		{"XXX", false, 0},
		{"HRK", false, 0}, // replaced by EUR in 2023
		{"ÉUR", false, 0},
	} {
		minor, ok := MinorUnits(tc.code)
		if tc.code.Valid() != tc.valid || ok != tc.valid || minor != tc.minor {
			t.Errorf("%q: Valid() = %v, MinorUnits = %d, %v; want %v, %d", tc.code, tc.code.Valid(), minor, ok, tc.valid, tc.minor)
		}
	}
}

func TestCurrencyTable(t *testing.T) {
	// 165 is the count of List One codes that have a minor unit; a change
	// here should come with a new publication of the list.
	if len(minorUnits) != 165 {
		t.Errorf("table holds %d currencies, want 165", len(minorUnits))
	}
	for c, n := range minorUnits {
		if !c.wellFormed() || n < 0 || n > 4 {
			t.Errorf("bad table entry %q: %d", c, n)
		}
	}
}

func TestCheckedArithmetic(t *testing.T) {
	const maxI, minI = math.MaxInt64, math.MinInt64
	for _, tc := range []struct {
		op       string
		a, b     int64
		want     int64
		overflow bool
	}{
		{"+", 1, 2, 3, false},
		{"+", -5, 3, -2, false},
		{"+", maxI - 1, 1, maxI, false},
		{"+", maxI, 1, 0, true},
		{"+", maxI, maxI, 0, true},
		{"+", -maxI + 1, -1, -maxI, false},
		{"+", -maxI, -1, 0, true}, // MinInt64 is outside the symmetric range
		{"+", minI, minI, 0, true},
		{"+", maxI, minI, -1, false},
		{"+", 0, 0, 0, false},
		{"-", 5, 7, -2, false},
		{"-", 0, maxI, -maxI, false},
		{"-", -1, maxI, 0, true},
		{"-", -maxI + 5, 6, 0, true},
		{"-", maxI, -1, 0, true},
		{"-", -1, minI, maxI, false},
		{"-", 0, minI, 0, true},
		{"-", maxI, maxI, 0, false},
		{"-", 0, 1, -1, false},
	} {
		f := checkedAdd
		if tc.op == "-" {
			f = checkedSub
		}
		got, err := f(tc.a, tc.b)
		if tc.overflow {
			if !errors.Is(err, ErrOverflow) {
				t.Errorf("%d %s %d = %d, %v; want ErrOverflow", tc.a, tc.op, tc.b, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%d %s %d = %d, %v; want %d", tc.a, tc.op, tc.b, got, err, tc.want)
		}
	}
}

func TestEvolveDoesNotShareState(t *testing.T) {
	s1 := Fold(given(opened, TransferOutBegun{TransferID: "tr-1", Amount: 1}))
	s2 := Evolve(s1, TransferOutBegun{TransferID: "tr-2", Amount: 2})
	s3 := Evolve(s2, TransferOutEnded{TransferID: "tr-1"})
	if len(s1.TransfersInFlight) != 1 || len(s2.TransfersInFlight) != 2 || len(s3.TransfersInFlight) != 1 {
		t.Errorf("states share their map: %v %v %v", s1.TransfersInFlight, s2.TransfersInFlight, s3.TransfersInFlight)
	}
	s4 := Evolve(s3, TransferOutEnded{TransferID: "tr-2"})
	if s4.TransfersInFlight != nil {
		t.Errorf("no transfer in flight should be a nil map, got %#v", s4.TransfersInFlight)
	}
}

func TestEvolveIgnoresForeignEvents(t *testing.T) {
	s := Fold(given(opened, deposited(5, 5)))
	if got := Evolve(s, foreignEvent{}); !reflect.DeepEqual(got, s) {
		t.Errorf("foreign event changed the state: %#v", got)
	}
}

type foreignEvent struct{}

func (foreignEvent) EventType() string { return "Foreign" }

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
