package eventstore

import (
	"cmp"
	"context"
	"fmt"
	"hash/fnv"
	"math/bits"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// MemoryBackend keeps items in memory, for fast unit tests. It is no more
// forgiving than DynamoDB: the same keys, the same all-or-nothing writes, a
// transaction may not touch one item twice, pages stop at 1 MB, and the
// contract suite runs against both.
type MemoryBackend struct {
	mu         sync.Mutex
	partitions map[string][]Item // sorted by sort key
}

// NewMemoryBackend returns an empty in-memory backend.
func NewMemoryBackend() *MemoryBackend {
	return &MemoryBackend{partitions: map[string][]Item{}}
}

const maxPageBytes = 1 << 20

func (m *MemoryBackend) Write(ctx context.Context, writes []Write, token string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(writes) == 0 {
		return fmt.Errorf("%w: no writes", ErrInvalid)
	}
	if len(writes) > MaxTransactionOps {
		return fmt.Errorf("%w: %d writes in one transaction, the limit is %d", ErrInvalid, len(writes), MaxTransactionOps)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	items := make([]Item, len(writes))
	for i, w := range writes {
		items[i] = w.Item
	}
	if len(writes) == 1 {
		Record(ctx, "PutItem", 0, WriteUnits(items, false))
	} else {
		Record(ctx, "TransactWriteItems", 0, WriteUnits(items, true))
	}

	type key struct {
		pk string
		sk SortKey
	}
	seen := map[key]bool{}
	var failed []FailedWrite
	for i, w := range writes {
		pk, sk, err := itemKey(w.Item)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		if seen[key{pk, sk}] {
			return fmt.Errorf("%w: transaction writes %s %s twice", ErrInvalid, pk, sk)
		}
		seen[key{pk, sk}] = true
		if size := ItemSize(w.Item); size > MaxItemSize {
			return &TooLargeError{What: "item " + pk, Size: size, Limit: MaxItemSize}
		}
		if _, old := m.find(pk, sk); old != nil && w.MustNotExist && (w.ExpiredBy.IsZero() || !Expired(old, w.ExpiredBy)) {
			failed = append(failed, FailedWrite{Index: i, Existing: copyItem(old)})
		}
	}
	if len(failed) > 0 {
		return &ConditionFailedError{Failed: failed}
	}
	for _, w := range writes {
		pk, sk, _ := itemKey(w.Item)
		m.put(pk, sk, copyItem(w.Item))
	}
	return nil
}

func (m *MemoryBackend) find(pk string, sk SortKey) (int, Item) {
	items := m.partitions[pk]
	i, found := slices.BinarySearchFunc(items, sk, compareKey)
	if !found {
		return i, nil
	}
	return i, items[i]
}

func (m *MemoryBackend) put(pk string, sk SortKey, it Item) {
	i, old := m.find(pk, sk)
	if old != nil {
		m.partitions[pk][i] = it
		return
	}
	m.partitions[pk] = slices.Insert(m.partitions[pk], i, it)
}

func compareKey(it Item, sk SortKey) int {
	_, k, _ := itemKey(it)
	switch {
	case k.Less(sk):
		return -1
	case sk.Less(k):
		return 1
	}
	return 0
}

func (m *MemoryBackend) Query(ctx context.Context, q Query) (Page, error) {
	if err := ctx.Err(); err != nil {
		return Page{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()

	items := m.partitions[q.PK]
	var start *SortKey
	if q.Start != nil {
		_, sk, err := itemKey(q.Start)
		if err != nil {
			return Page{}, fmt.Errorf("%w: start key: %v", ErrInvalid, err)
		}
		start = &sk
	}
	in := func(k SortKey) bool {
		if q.From != nil && k.Less(*q.From) || q.To != nil && q.To.Less(k) {
			return false
		}
		if start != nil {
			if q.Descending {
				return k.Less(*start)
			}
			return start.Less(k)
		}
		return true
	}
	order := make([]Item, 0, len(items))
	for _, it := range items {
		_, k, _ := itemKey(it)
		if in(k) {
			order = append(order, it)
		}
	}
	if q.Descending {
		slices.Reverse(order)
	}
	var page Page
	bytes := 0
	for _, it := range order {
		if q.Limit > 0 && len(page.Items) == int(q.Limit) {
			break
		}
		size := ItemSize(it)
		if bytes+size > maxPageBytes && len(page.Items) > 0 {
			break
		}
		bytes += size
		page.Items = append(page.Items, copyItem(it))
	}
	// Like DynamoDB, a page cut by its limit carries a key to go on from,
	// even when nothing follows it.
	if len(page.Items) > 0 && len(page.Items) < len(order) || q.Limit > 0 && len(page.Items) == int(q.Limit) {
		page.Next = KeyOf(page.Items[len(page.Items)-1])
	}
	Record(ctx, "Query", ReadUnits(bytes, q.Consistent), 0)
	return page, nil
}

func (m *MemoryBackend) Get(ctx context.Context, pk string, sk SortKey) (Item, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	_, it := m.find(pk, sk)
	Record(ctx, "GetItem", ReadUnits(ItemSize(it), true), 0)
	return copyItem(it), nil
}

// maxSegments is DynamoDB's limit on TotalSegments.
const maxSegments = 1_000_000

// validSegment is DynamoDB's rule: a segment from 0 to segments-1 of at
// most maxSegments, or no segments at all.
func validSegment(segment, segments int) bool {
	if segments == 0 {
		return segment == 0
	}
	return segments > 0 && segments <= maxSegments && segment >= 0 && segment < segments
}

// Scan reads partitions in the order of a hash of their keys, as DynamoDB
// does, so that no caller comes to rely on an order of stream keys; a
// segment is a range of that hash, so it holds whole partitions.
func (m *MemoryBackend) Scan(ctx context.Context, sc Scan) (ScanPage, error) {
	if err := ctx.Err(); err != nil {
		return ScanPage{}, err
	}
	if !validSegment(int(sc.Segment), int(sc.Segments)) {
		return ScanPage{}, fmt.Errorf("%w: segment %d of %d", ErrInvalid, sc.Segment, sc.Segments)
	}
	for _, f := range sc.Filter {
		if !validMatch(f) {
			return ScanPage{}, fmt.Errorf("%w: filter %+v", ErrInvalid, f)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()

	type partition struct {
		hash uint64
		pk   string
	}
	order := func(a, b partition) int {
		return cmp.Or(cmp.Compare(a.hash, b.hash), cmp.Compare(a.pk, b.pk))
	}
	var parts []partition
	for pk := range m.partitions {
		p := partition{hash: keyHash(pk), pk: pk}
		if sc.Segments > 0 && segmentOf(p.hash, sc.Segments) != sc.Segment {
			continue
		}
		parts = append(parts, p)
	}
	slices.SortFunc(parts, order)

	var start *partition
	var startSK SortKey
	if sc.Start != nil {
		pk, sk, err := itemKey(sc.Start)
		if err != nil {
			return ScanPage{}, fmt.Errorf("%w: start key: %v", ErrInvalid, err)
		}
		start, startSK = &partition{hash: keyHash(pk), pk: pk}, sk
	}

	var page ScanPage
	bytes := 0
	var last Item
	full := false
scan:
	for _, p := range parts {
		if start != nil && order(p, *start) < 0 {
			continue
		}
		for _, it := range m.partitions[p.pk] {
			if start != nil && p.pk == start.pk {
				if _, sk, _ := itemKey(it); !startSK.Less(sk) {
					continue
				}
			}
			if sc.Limit > 0 && page.Scanned == int(sc.Limit) {
				full = true
				break scan
			}
			size := ItemSize(it)
			if bytes+size > maxPageBytes && page.Scanned > 0 {
				full = true
				break scan
			}
			bytes += size
			page.Scanned++
			last = it
			if matches(it, sc.Filter) {
				page.Items = append(page.Items, copyItem(it))
			}
		}
	}
	// Like DynamoDB, a page cut by its limit carries a key to go on from,
	// even when nothing follows it; the key is the last item read, kept
	// by the filter or not.
	if full || sc.Limit > 0 && page.Scanned == int(sc.Limit) {
		page.Next = KeyOf(last)
	}
	Record(ctx, "Scan", ReadUnits(bytes, sc.Consistent), 0)
	return page, nil
}

// keyHash spreads partition keys over the segments.
func keyHash(pk string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(pk))
	return h.Sum64()
}

// segmentOf cuts the hash space into equal ranges, one per segment.
func segmentOf(hash uint64, segments int32) int32 {
	hi, _ := bits.Mul64(hash, uint64(segments))
	return int32(hi)
}

// matches applies a scan filter as DynamoDB's FilterExpression would:
// strings compare by their bytes, and a missing or non-string attribute
// matches nothing.
func matches(it Item, filter []Match) bool {
	for _, f := range filter {
		v, ok := it[f.Name].(*types.AttributeValueMemberS)
		if !ok {
			return false
		}
		switch f.Op {
		case MatchEqual:
			if v.Value != f.Value {
				return false
			}
		case MatchAtLeast:
			if v.Value < f.Value {
				return false
			}
		case MatchOneOf:
			if !slices.Contains(f.Values, v.Value) {
				return false
			}
		}
	}
	return true
}

// validMatch is what DynamoDB accepts of a filter term.
func validMatch(f Match) bool {
	switch f.Op {
	case MatchEqual, MatchAtLeast:
		return f.Name != ""
	case MatchOneOf:
		return f.Name != "" && len(f.Values) > 0 && len(f.Values) <= maxOneOf
	}
	return false
}

// ItemCount implements ItemCounter, exactly.
func (m *MemoryBackend) ItemCount(ctx context.Context) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, items := range m.partitions {
		n += len(items)
	}
	Record(ctx, "DescribeTable", 0, 0)
	return int64(n), nil
}

func copyItem(it Item) Item {
	if it == nil {
		return nil
	}
	out := make(Item, len(it))
	for k, v := range it {
		out[k] = copyValue(v)
	}
	return out
}

func copyValue(v types.AttributeValue) types.AttributeValue {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return &types.AttributeValueMemberS{Value: v.Value}
	case *types.AttributeValueMemberN:
		return &types.AttributeValueMemberN{Value: v.Value}
	case *types.AttributeValueMemberB:
		return &types.AttributeValueMemberB{Value: slices.Clone(v.Value)}
	case *types.AttributeValueMemberBOOL:
		return &types.AttributeValueMemberBOOL{Value: v.Value}
	case *types.AttributeValueMemberNULL:
		return &types.AttributeValueMemberNULL{Value: v.Value}
	case *types.AttributeValueMemberL:
		l := make([]types.AttributeValue, len(v.Value))
		for i, e := range v.Value {
			l[i] = copyValue(e)
		}
		return &types.AttributeValueMemberL{Value: l}
	case *types.AttributeValueMemberM:
		return &types.AttributeValueMemberM{Value: copyItem(v.Value)}
	case *types.AttributeValueMemberSS:
		return &types.AttributeValueMemberSS{Value: slices.Clone(v.Value)}
	case *types.AttributeValueMemberNS:
		return &types.AttributeValueMemberNS{Value: slices.Clone(v.Value)}
	case *types.AttributeValueMemberBS:
		bs := make([][]byte, len(v.Value))
		for i, b := range v.Value {
			bs[i] = slices.Clone(b)
		}
		return &types.AttributeValueMemberBS{Value: bs}
	}
	return v
}

// WriteBatch implements BatchWriter: the puts and deletes all apply, as
// DynamoDB applies a BatchWriteItem that leaves nothing unprocessed.
func (m *MemoryBackend) WriteBatch(ctx context.Context, puts, dels []Item) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := CheckBatch(puts, dels); err != nil {
		return err
	}
	Record(ctx, "BatchWriteItem", 0, BatchUnits(puts, dels))
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, it := range puts {
		pk, sk, _ := itemKey(it)
		m.put(pk, sk, copyItem(it))
	}
	for _, k := range dels {
		pk, sk, _ := itemKey(k)
		if i, old := m.find(pk, sk); old != nil {
			m.partitions[pk] = slices.Delete(m.partitions[pk], i, i+1)
		}
	}
	return nil
}
