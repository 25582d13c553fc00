package eventstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Backend stores items. It is deliberately small: the store's semantics
// (heads, guards, sizes, folds) live in this package, above it, so that every
// backend gets them identically.
type Backend interface {
	// Write applies every write or none. A write with MustNotExist fails the
	// whole call if an item with its key exists; the error is then a
	// *ConditionFailedError holding, for each failed write, the item that
	// was there. One write is one PutItem; several are one transaction
	// (token makes a resent transaction idempotent where supported).
	// Errors that leave the outcome unknown wrap ErrUnknownOutcome.
	Write(ctx context.Context, writes []Write, token string) error
	// Query returns one page of a partition's items in sort key order.
	Query(ctx context.Context, q Query) (Page, error)
	// Get returns the item with the given keys, or nil. Always consistent.
	Get(ctx context.Context, pk string, sk SortKey) (Item, error)
	// Scan returns one page of one segment of the whole table.
	Scan(ctx context.Context, s Scan) (ScanPage, error)
}

// ItemCounter is a Backend that can estimate how many items it holds.
type ItemCounter interface {
	// ItemCount is the number of items of every kind; DynamoDB refreshes
	// its figure about every six hours.
	ItemCount(ctx context.Context) (int64, error)
}

// Write is one item to put.
type Write struct {
	Item         Item
	MustNotExist bool
	// ExpiredBy, set with MustNotExist, lets the write replace an item that
	// has expired by then: one whose ExpiryAttribute is at or before it.
	// The item counts as absent, as it will be once TTL deletes it.
	ExpiredBy time.Time
}

// ExpiryAttribute holds, on the items that expire (the guards of
// idempotency keys), the Unix second from which they count as absent. The
// events table's TTL deletes them some time after; every backend checks
// it on write rather than wait for that.
const ExpiryAttribute = "exp"

// Expired reports whether it has an expiry at or before t.
func Expired(it Item, t time.Time) bool {
	v, ok := it[ExpiryAttribute].(*types.AttributeValueMemberN)
	if !ok {
		return false
	}
	sec, err := strconv.ParseInt(v.Value, 10, 64)
	return err == nil && sec <= t.Unix()
}

// Query selects a range of one partition.
type Query struct {
	PK         string
	From, To   *SortKey // inclusive bounds; nil is open
	Descending bool
	Limit      int32 // items evaluated per page; 0 means the backend's own page size
	Start      Item  // exclusive start key from a previous Page.Next
	Consistent bool
}

// Page is one page of items and the key to continue after, nil at the end.
type Page struct {
	Items []Item
	Next  Item
}

// Scan selects one segment of a parallel scan of the whole table. Segments
// partition the items by partition key: each partition lies whole in one
// segment, its items together and in sort key order, so that workers
// scanning segments 0..Segments-1 read every item exactly once.
type Scan struct {
	Segment  int32
	Segments int32 // 0 scans the whole table as one segment
	// Filter keeps the items that every match accepts. Like DynamoDB's
	// FilterExpression it applies after the read: the items it drops count
	// toward Limit, the 1 MB page and the capacity all the same.
	Filter     []Match
	Limit      int32 // items read per page; 0 means the backend's own page size
	Start      Item  // exclusive start key from a previous ScanPage.Next
	Consistent bool
}

// Match accepts the items whose string attribute Name compares with Value
// (with MatchOneOf, with Values) as Op says. Strings compare as DynamoDB
// compares them, byte by byte in UTF-8; an item without the attribute
// does not match.
type Match struct {
	Name   string
	Op     MatchOp
	Value  string
	Values []string
}

// MatchOp is how a Match compares.
type MatchOp int

const (
	MatchEqual   MatchOp = iota + 1 // attribute = value
	MatchAtLeast                    // attribute >= value
	MatchOneOf                      // attribute IN (values), at most 100 of them
)

// maxOneOf is the most values DynamoDB's IN takes.
const maxOneOf = 100

// ScanPage is one page of a scan: the items the filter kept, how many were
// read, and the key to continue after, nil at the end.
type ScanPage struct {
	Items   []Item
	Scanned int
	Next    Item
}

// ConditionFailedError reports the writes whose MustNotExist failed.
type ConditionFailedError struct {
	Failed []FailedWrite
}

// FailedWrite is one write of a Write call that found an item in its place.
type FailedWrite struct {
	Index    int  // into the writes given to Write
	Existing Item // what was there (DynamoDB's ALL_OLD)
}

func (e *ConditionFailedError) Error() string {
	return fmt.Sprintf("conditional write failed for %d item(s)", len(e.Failed))
}

// ContendedError is a transaction that another transaction in progress on
// some of the same items cancelled (DynamoDB's TransactionConflict).
// Nothing was written; it may be resent.
type ContendedError struct {
	Writes []int // the indexes of the contended writes
	Err    error
}

func (e *ContendedError) Error() string {
	return fmt.Sprintf("transact write: writes %v in another transaction's hands: %v", e.Writes, e.Err)
}

// Unwrap makes it ErrThrottled to callers that only resend.
func (e *ContendedError) Unwrap() []error { return []error{ErrThrottled, e.Err} }
