package eventstore

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

func formatFixture(t *testing.T) (StreamID, []commit, []snapshot) {
	t.Helper()
	stream, err := NewStreamID("acme", "account", "a1")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 2, 9, 0, 0, 0, time.UTC)
	var commits []commit
	for i := range int64(3) {
		c := commit{id: fmt.Sprint("c", i+1), stream: stream, first: i + 1, recordedAt: at.Add(time.Duration(i) * time.Minute),
			meta: Metadata{Actor: "alice"}, foldKey: "tally/logic-1/schema-1", state: []byte(fmt.Sprintf(`{"n":%d}`, i+1))}
		c.events = []Event{{ID: fmt.Sprint("e", i+1), Stream: stream, Version: i + 1, Type: "Added", SchemaVersion: 1,
			OccurredAt: c.recordedAt, RecordedAt: c.recordedAt, Data: json.RawMessage(`{"n":1}`), CommitID: c.id, Metadata: c.meta}}
		commits = append(commits, c)
	}
	sns := []snapshot{{stream: stream, version: 2, recordedAt: commits[1].recordedAt, foldKey: "tally/logic-1/schema-1", state: []byte(`{"n":2}`)}}
	return stream, commits, sns
}

// An object decodes into the commits and snapshots it was made of, as
// their items; one of the first format, without snapshots, still reads;
// a damaged or mislabelled one never does.
func TestArchiveFormats(t *testing.T) {
	stream, commits, sns := formatFixture(t)
	obj, sum, err := encodeArchive(stream, commits, sns)
	if err != nil {
		t.Fatal(err)
	}
	cs, got, err := decodeArchive(stream, obj, sum)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if len(cs) != 3 || len(got) != 1 || ItemSize(cs[2].item()) != ItemSize(commits[2].item()) || got[0].version != 2 || string(got[0].state) != `{"n":2}` {
		t.Fatalf("decoded %d commits and %+v", len(cs), got)
	}

	// The first format: the same commit lines, no snapshots.
	v1, _, err := encodeArchive(stream, commits, nil)
	if err != nil {
		t.Fatal(err)
	}
	head, body, _ := bytes.Cut(v1, []byte("\n"))
	head = bytes.Replace(head, []byte(`"format":"annals-archive/2"`), []byte(`"format":"annals-archive/1"`), 1)
	head = bytes.Replace(head, []byte(`"snapshots":0,`), nil, 1)
	v1 = append(append(head, '\n'), body...)
	if cs, sns, err := decodeArchive(stream, v1, ""); err != nil || len(cs) != 3 || len(sns) != 0 {
		t.Fatalf("a first-format object: %d commits, %d snapshots, %v", len(cs), len(sns), err)
	}

	reheader := func(edit func(h *archiveHeader), body []byte) []byte {
		var h archiveHeader
		h1, _, _ := bytes.Cut(obj, []byte("\n"))
		if err := json.Unmarshal(h1, &h); err != nil {
			t.Fatal(err)
		}
		s := sha256.Sum256(body)
		h.SHA256 = hex.EncodeToString(s[:])
		edit(&h)
		b, _ := json.Marshal(h)
		return append(append(b, '\n'), body...)
	}
	_, objBody, _ := bytes.Cut(obj, []byte("\n"))
	other, _ := NewStreamID("acme", "account", "a2")
	for name, c := range map[string]struct {
		stream StreamID
		obj    []byte
		sum    string
		want   string
	}{
		"another checksum":         {stream, obj, strings.Repeat("0", 64), "checksum"},
		"a changed byte":           {stream, bytes.Replace(obj, []byte(`\"n\":2`), []byte(`\"n\":3`), 1), "", "checksum"},
		"another stream":           {other, obj, "", "archive of acme#account#a1"},
		"an unknown format":        {stream, reheader(func(h *archiveHeader) { h.Format = "annals-archive/9" }, objBody), "", "format"},
		"snapshots in format 1":    {stream, reheader(func(h *archiveHeader) { h.Format = archiveFormatV1 }, objBody), "", "keeps no snapshots"},
		"a snapshot too many":      {stream, reheader(func(h *archiveHeader) { h.Snapshots = 0 }, objBody), "", "1 snapshots, the header says"},
		"a commit fewer than said": {stream, reheader(func(h *archiveHeader) { h.Commits = 4 }, objBody), "", "line"},
	} {
		if _, _, err := decodeArchive(c.stream, c.obj, c.sum); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", name, err, c.want)
		}
	}
}
