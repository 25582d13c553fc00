package transfer

import (
	"errors"
	"reflect"
	"testing"

	"annals/internal/ledger/account"
)

// Given both accounts as they stand, when a transfer is requested, then it
// is recorded as asked in the source's currency, or refused with the
// account or the fields at fault.
func TestDecide(t *testing.T) {
	open := func(id string, cur account.Currency) account.Account {
		return account.Evolve(account.Account{}, account.AccountOpened{AccountID: id, Owner: "x", Currency: cur})
	}
	closed := account.Evolve(open("acc-b", "EUR"), account.AccountClosed{})
	ask := Request{TransferID: "tr-1", FromAccountID: "acc-a", ToAccountID: "acc-b", Amount: 300, Reference: "rent"}
	cases := []struct {
		name       string
		from, to   account.Account
		when       Request
		then       Requested
		thenErr    error
		thenField  string
		thenFields []account.FieldError
	}{
		{
			name: "both open in one currency: requested, in that currency",
			from: open("acc-a", "EUR"), to: open("acc-b", "EUR"), when: ask,
			then: Requested{TransferID: "tr-1", FromAccountID: "acc-a", ToAccountID: "acc-b", Amount: 300, Currency: "EUR", Reference: "rent"},
		},
		{
			name: "a source that does not exist",
			to:   open("acc-b", "EUR"), when: ask,
			thenErr: account.ErrAccountNotFound, thenField: "fromAccountId",
		},
		{
			name: "a closed destination",
			from: open("acc-a", "EUR"), to: closed, when: ask,
			thenErr: account.ErrAccountClosed, thenField: "toAccountId",
		},
		{
			name: "accounts in two currencies",
			from: open("acc-a", "EUR"), to: open("acc-b", "USD"), when: ask,
			thenFields: []account.FieldError{{Field: "toAccountId", Message: "must hold the same currency as fromAccountId (EUR)"}},
		},
		{
			name: "every field wrong at once, before the accounts are looked at",
			when: Request{TransferID: "tr-1", FromAccountID: "acc-a", ToAccountID: "acc-a", Amount: 0},
			thenFields: []account.FieldError{
				{Field: "amount", Message: "must be at least 1"},
				{Field: "toAccountId", Message: "must differ from fromAccountId"},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decide(tc.from, tc.to, tc.when)
			switch {
			case tc.thenErr != nil:
				var ae *AccountError
				if !errors.Is(err, tc.thenErr) || !errors.As(err, &ae) || ae.Field != tc.thenField {
					t.Fatalf("got %+v, %v; want %v on %s", got, err, tc.thenErr, tc.thenField)
				}
			case tc.thenFields != nil:
				var ve *account.ValidationError
				if !errors.As(err, &ve) {
					t.Fatalf("got %+v, %v; want invalid fields %v", got, err, tc.thenFields)
				}
				gotFields := map[string]string{}
				for _, f := range ve.Fields {
					gotFields[f.Field] = f.Message
				}
				wantFields := map[string]string{}
				for _, f := range tc.thenFields {
					wantFields[f.Field] = f.Message
				}
				if !reflect.DeepEqual(gotFields, wantFields) {
					t.Errorf("fields %v, want %v", gotFields, wantFields)
				}
			case err != nil:
				t.Fatalf("unexpected error %v", err)
			case got != tc.then:
				t.Errorf("requested %+v, want %+v", got, tc.then)
			}
		})
	}
}
