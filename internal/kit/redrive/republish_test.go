package redrive_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/storetest"
	"annals/internal/kit/fanout"
	"annals/internal/kit/projection/notebooktest"
	"annals/internal/kit/redrive"
)

// publisher keeps what it is given, or fails with err.
type publisher struct {
	commits [][]eventstore.Event
	err     error
}

func (p *publisher) Publish(_ context.Context, commits [][]eventstore.Event) (fanout.Published, error) {
	if p.err != nil {
		return fanout.Published{}, p.err
	}
	p.commits = append(p.commits, commits...)
	return fanout.Published{Sent: len(commits), Requests: 1}, nil
}

// Republish hands the publisher the commits that hold the range, whole and
// as stored, and says which versions they hold; a range the stream does
// not reach is ErrNotFound, and one that is no range ErrInvalid.
func TestRepublishTakesWholeCommits(t *testing.T) {
	store := eventstore.New(eventstore.NewMemoryBackend())
	w := notebooktest.NewWriter(notebooktest.Notebook(t, "nb1"))
	for _, n := range []int{1, 2, 1, 3, 1} { // [1] [2 3] [4] [5 6 7] [8]
		var evs []eventstore.NewEvent
		for range n {
			evs = append(evs, notebooktest.Note("n"))
		}
		w.Write(t, store, evs...)
	}
	notebooktest.NewWriter(notebooktest.Notebook(t, "nb2")).Write(t, store, notebooktest.Note("other"))
	for _, tc := range []struct {
		from, to int64
		want     string
		span     [2]int64
	}{
		{1, 0, "[1] [2 3] [4] [5 6 7] [8]", [2]int64{1, 8}},
		{3, 5, "[2 3] [4] [5 6 7]", [2]int64{2, 7}},
		{6, 6, "[5 6 7]", [2]int64{5, 7}},
		{8, 20, "[8]", [2]int64{8, 8}},
	} {
		pub := &publisher{}
		res, err := redrive.Republish(t.Context(), store, pub, w.Stream, tc.from, tc.to)
		if err != nil {
			t.Fatalf("republish %d..%d: %v", tc.from, tc.to, err)
		}
		if got := storetest.CommitVersions(pub.commits); got != tc.want {
			t.Errorf("republish %d..%d sent %s, want %s", tc.from, tc.to, got, tc.want)
		}
		if res.Commits != len(pub.commits) || res.From != tc.span[0] || res.To != tc.span[1] || res.Sent != len(pub.commits) {
			t.Errorf("republish %d..%d: %+v, want %d commits holding %d..%d", tc.from, tc.to, res, len(pub.commits), tc.span[0], tc.span[1])
		}
		for _, c := range pub.commits {
			if c[0].Stream != w.Stream || slices.ContainsFunc(c, func(e eventstore.Event) bool { return e.CommitID != c[0].CommitID }) {
				t.Errorf("republish %d..%d sent %+v, not one commit of %s", tc.from, tc.to, c, w.Stream)
			}
		}
	}

	pub := &publisher{}
	if _, err := redrive.Republish(t.Context(), store, pub, w.Stream, 9, 0); !errors.Is(err, eventstore.ErrNotFound) {
		t.Errorf("republish beyond the head: %v, want ErrNotFound", err)
	}
	if _, err := redrive.Republish(t.Context(), store, pub, notebooktest.Notebook(t, "none"), 1, 0); !errors.Is(err, eventstore.ErrNotFound) {
		t.Errorf("republish of a stream without commits: %v, want ErrNotFound", err)
	}
	for _, r := range [][2]int64{{0, 0}, {5, 4}} {
		if _, err := redrive.Republish(t.Context(), store, pub, w.Stream, r[0], r[1]); !errors.Is(err, eventstore.ErrInvalid) {
			t.Errorf("republish %d..%d: %v, want ErrInvalid", r[0], r[1], err)
		}
	}
	if len(pub.commits) != 0 {
		t.Errorf("failed republishes sent %s", storetest.CommitVersions(pub.commits))
	}

	cause := errors.New("stream unreachable")
	_, err := redrive.Republish(t.Context(), store, &publisher{err: cause}, w.Stream, 4, 4)
	if !errors.Is(err, cause) || !strings.Contains(err.Error(), "acme#notebook#nb1 4..4") {
		t.Errorf("republish through a failing publisher: %v, want %v naming the range", err, cause)
	}
}
