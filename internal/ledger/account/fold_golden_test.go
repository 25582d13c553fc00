package account

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/fold.golden.json from the current Evolve")

const foldGoldenPath = "testdata/fold.golden.json"

// goldenHistory touches every event type and every branch of Evolve: an
// overdraft, transfers out overlapping in time, an incoming transfer, and a
// close.
var goldenHistory = []Event{
	AccountOpened{AccountID: "acc-golden", Owner: "Ada Lovelace", Currency: "GBP", OverdraftLimit: 5_000},
	MoneyDeposited{Amount: 120_000, Reference: "salary", BalanceAfter: 120_000},
	MoneyWithdrawn{Amount: 123_500, Reference: "rent", BalanceAfter: -3_500},
	MoneyDeposited{Amount: 53_500, TransferID: "tr-in", BalanceAfter: 50_000},
	TransferOutBegun{TransferID: "tr-2", Amount: 20_000},
	TransferOutBegun{TransferID: "tr-1", Amount: 30_000},
	MoneyWithdrawn{Amount: 30_000, TransferID: "tr-1", BalanceAfter: 20_000},
	MoneyWithdrawn{Amount: 20_000, TransferID: "tr-2", BalanceAfter: 0},
	TransferOutEnded{TransferID: "tr-1"},
	MoneyDeposited{Amount: 20_000, TransferID: "tr-2", Reference: "refund", BalanceAfter: 20_000},
	TransferOutEnded{TransferID: "tr-2"},
	MoneyWithdrawn{Amount: 20_000, BalanceAfter: 0},
	AccountClosed{},
}

type foldGolden struct {
	FoldLogicVersion int               `json:"foldLogicVersion"`
	States           []json.RawMessage `json:"states"`
}

// TestFoldGolden guards snapshots: they are keyed by FoldLogicVersion, so if
// Evolve starts computing something else under the same version, old
// snapshots would be loaded as if the new logic had produced them.
func TestFoldGolden(t *testing.T) {
	var current foldGolden
	current.FoldLogicVersion = FoldLogicVersion
	var s Account
	for _, e := range goldenHistory {
		s = Evolve(s, e)
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		current.States = append(current.States, b)
	}

	if *update {
		b, err := json.MarshalIndent(current, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(foldGoldenPath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(foldGoldenPath, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("rewrote %s at fold logic version %d", foldGoldenPath, FoldLogicVersion)
		return
	}

	raw, err := os.ReadFile(foldGoldenPath)
	if err != nil {
		t.Fatalf("%v (create it with: go test ./internal/ledger -run TestFoldGolden -update)", err)
	}
	var recorded foldGolden
	if err := json.Unmarshal(raw, &recorded); err != nil {
		t.Fatalf("parse %s: %v", foldGoldenPath, err)
	}

	if recorded.FoldLogicVersion != FoldLogicVersion {
		t.Fatalf("FoldLogicVersion is %d but %s records %d: if the bump is intended, "+
			"rerun with: go test ./internal/ledger -run TestFoldGolden -update",
			FoldLogicVersion, foldGoldenPath, recorded.FoldLogicVersion)
	}
	if len(recorded.States) != len(current.States) {
		t.Fatalf("%s has %d states, the history gives %d: the history changed, rerun with -update",
			foldGoldenPath, len(recorded.States), len(current.States))
	}
	for i := range current.States {
		var want bytes.Buffer
		if err := json.Compact(&want, recorded.States[i]); err != nil {
			t.Fatalf("state %d of %s: %v", i, foldGoldenPath, err)
		}
		if !bytes.Equal(want.Bytes(), current.States[i]) {
			t.Fatalf("Evolve changed what it computes but FoldLogicVersion was not bumped: snapshots would be wrong.\n"+
				"After event %d (%s):\n got %s\nwant %s\n"+
				"Bump FoldLogicVersion, then rerun with: go test ./internal/ledger -run TestFoldGolden -update",
				i, goldenHistory[i].EventType(), current.States[i], want.Bytes())
		}
	}
}
