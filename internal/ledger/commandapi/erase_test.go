package commandapi_test

import (
	"strings"
	"testing"

	"annals/internal/kit/httpapi"
	"annals/internal/kit/personal"
	"annals/internal/ledger/account"
)

// What a command records of a person is stored sealed: the owner, a
// reference, a counterparty; the audit trail opens it.
func TestPersonalDataIsStoredSealed(t *testing.T) {
	f := newFixture(t)
	b := expect(t, f.do(t, req{path: "/accounts", body: `{"owner":"Ada Lovelace","dataSubject":"cust-7","currency":"EUR"}`}), 201, "")
	id := b["accountId"].(string)
	stored := string(f.storedLastEvent(t, id).Data)
	if strings.Contains(stored, "Ada") || !strings.Contains(stored, `"dataSubject":"cust-7"`) {
		t.Errorf("opening stored as %s, want the owner sealed and the subject named", stored)
	}
	if opened := string(f.lastEvent(t, id).Data); !strings.Contains(opened, `"owner":"Ada Lovelace"`) {
		t.Errorf("opening opens as %s", opened)
	}
	expect(t, f.do(t, req{path: "/accounts/" + id + "/deposits", body: `{"amount":5,"reference":"rent flat 3","counterparty":"Grace Hopper"}`}), 200, "")
	stored = string(f.storedLastEvent(t, id).Data)
	if strings.Contains(stored, "rent") || strings.Contains(stored, "Grace") {
		t.Errorf("deposit stored as %s, want its reference and counterparty sealed", stored)
	}
	if opened := string(f.lastEvent(t, id).Data); !strings.Contains(opened, `"reference":"rent flat 3"`) || !strings.Contains(opened, `"counterparty":"Grace Hopper"`) {
		t.Errorf("deposit opens as %s", opened)
	}
	// Registered for lookups by owner, under the subject named.
	if got, err := f.vault.Keys().Subjects(t.Context(), "t1", "owner", "Ada Lovelace"); err != nil || len(got) != 1 || got[0] != "cust-7" {
		t.Errorf("subjects of the owner: %v, %v", got, err)
	}
}

// Erasing a data subject: its own scope, a record that says when and by
// whom (the same on a repeat), every sealed field of theirs reads as
// erased, and nothing personal about them can be recorded again; money
// still moves.
func TestEraseDataSubject(t *testing.T) {
	f := newFixture(t)
	open := func(body string) string {
		return expect(t, f.do(t, req{path: "/accounts", body: body}), 201, "")["accountId"].(string)
	}
	a := open(`{"owner":"Ada Lovelace","dataSubject":"cust-1","currency":"EUR"}`)
	b := open(`{"owner":"Ada L.","dataSubject":"cust-1","currency":"EUR"}`)
	other := open(`{"owner":"Grace Hopper","dataSubject":"cust-2","currency":"EUR"}`)
	expect(t, f.do(t, req{path: "/accounts/" + a + "/deposits", body: `{"amount":50,"reference":"salary"}`}), 200, "")

	erase := req{path: "/data-subjects/cust-1/erase", scopes: []string{httpapi.ScopeErase}, subject: "dpo"}
	expect(t, f.do(t, req{path: erase.path}), 403, httpapi.KindForbidden) // ledger:write is not enough
	first := expect(t, f.do(t, erase), 200, "")
	if first["dataSubject"] != "cust-1" || first["erasedBy"] != "dpo" || first["erasedAt"] == nil {
		t.Errorf("erasure %v, want the subject, the actor and the time", first)
	}
	f.clock.Advance(1)
	if again := expect(t, f.do(t, erase), 200, ""); again["erasedAt"] != first["erasedAt"] {
		t.Errorf("erasing again answers %v, want the first record %v", again, first)
	}

	for _, id := range []string{a, b} {
		if opened := string(f.lastEvent(t, id).Data); !strings.Contains(opened, `"owner":"`+personal.ErasedText+`"`) && !strings.Contains(opened, `"reference":"`+personal.ErasedText+`"`) {
			t.Errorf("%s after the erasure opens as %s", id, opened)
		}
	}
	if opened := string(f.lastEvent(t, other).Data); !strings.Contains(opened, `"owner":"Grace Hopper"`) {
		t.Errorf("another subject's account opens as %s", opened)
	}
	expect(t, f.do(t, req{path: "/accounts/" + a + "/deposits", body: `{"amount":5,"reference":"more"}`}), 422, account.ErrSubjectErased.Kind)
	expect(t, f.do(t, req{path: "/accounts", body: `{"owner":"Ada","dataSubject":"cust-1","currency":"EUR"}`}), 422, account.ErrSubjectErased.Kind)
	if got := expect(t, f.do(t, req{path: "/accounts/" + a + "/deposits", body: `{"amount":5}`}), 200, ""); num(got, "balance") != 55 {
		t.Errorf("a deposit without personal data after the erasure: %v", got)
	}
	if got, _ := f.vault.Keys().Subjects(t.Context(), "t1", "owner", "Ada Lovelace"); len(got) != 0 {
		t.Errorf("the erased subject is still found by owner: %v", got)
	}

	expect(t, f.do(t, req{path: "/data-subjects/Ada%20L/erase", scopes: []string{httpapi.ScopeErase}}), 400, httpapi.KindValidation)
	expect(t, f.do(t, req{method: "GET", path: erase.path, scopes: []string{httpapi.ScopeErase}}), 405, httpapi.KindMethodNotAllowed)
	expect(t, f.do(t, req{path: erase.path, scopes: []string{httpapi.ScopeErase}, body: `{"x":`, headers: map[string]string{"Content-Type": "application/json"}}), 400, httpapi.KindMalformedJSON)
}
