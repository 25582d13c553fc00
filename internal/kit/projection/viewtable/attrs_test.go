package viewtable_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"annals/internal/kit/projection"
	"annals/internal/kit/projection/viewtable"
)

// A position reads back as written, in UTC, with its quarantine; the
// optional attributes are absent, not empty, when there is nothing to say.
func TestPositionRoundTrip(t *testing.T) {
	at := time.Date(2026, 3, 1, 9, 0, 0, 123456789, time.FixedZone("CET", 3600))
	for _, pos := range []projection.Position{
		{},
		{Version: 7, UpdatedAt: at},
		{Version: 7, UpdatedAt: at, Quarantine: &projection.Quarantine{Reason: "bad amount", At: 8}},
	} {
		item := map[string]types.AttributeValue{"pk": viewtable.S(viewtable.Key("t1", "a1"))}
		viewtable.SetPosition(item, pos)
		if _, ok := item["updatedAt"]; ok == pos.UpdatedAt.IsZero() {
			t.Errorf("%+v: updatedAt stored %v", pos, ok)
		}
		if _, ok := item["quarantined"]; ok != (pos.Quarantine != nil) {
			t.Errorf("%+v: quarantined stored %v", pos, ok)
		}
		attrs := viewtable.Read(item)
		got := attrs.Position()
		want := pos
		want.UpdatedAt = pos.UpdatedAt.UTC()
		if attrs.Err() != nil || got.Version != want.Version || !got.UpdatedAt.Equal(want.UpdatedAt) ||
			got.UpdatedAt.Location() != time.UTC || !reflect.DeepEqual(got.Quarantine, want.Quarantine) {
			t.Errorf("read back %+v (quarantine %+v, %v), want %+v (quarantine %+v)", got, got.Quarantine, attrs.Err(), want, want.Quarantine)
		}
		if attrs.S("pk") != "t1#a1" {
			t.Errorf("pk = %q", attrs.S("pk"))
		}
	}
}

// The first attribute that does not parse is the reader's error; absent
// ones read as zero values without one.
func TestAttrsKeepTheFirstError(t *testing.T) {
	attrs := viewtable.Read(map[string]types.AttributeValue{
		"version":   &types.AttributeValueMemberN{Value: "seven"},
		"updatedAt": viewtable.S("yesterday"),
	})
	if attrs.S("missing") != "" || attrs.N("missing") != 0 || attrs.Bool("missing") || !attrs.Time("missing").IsZero() || attrs.Err() != nil {
		t.Fatalf("absent attributes: %v", attrs.Err())
	}
	attrs.Position()
	if err := attrs.Err(); err == nil || !strings.HasPrefix(err.Error(), "attribute version:") {
		t.Errorf("err = %v, want the version's", err)
	}
}
