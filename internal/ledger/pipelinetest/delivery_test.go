package pipelinetest

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"

	"github.com/aws/aws-lambda-go/events"

	"annals/internal/kit/eventstore"
)

// published is one commit as the fan-out publishes it: its stream key (the
// partition key) and the public envelope.
type published struct {
	key      string
	data     []byte
	stream   eventstore.StreamID
	from, to int64 // the commit's versions
}

// delivery is what a seed's schedule did to the envelopes, for the log of
// a failing seed and to prove that each kind of mishap happened.
type delivery struct {
	duplicated, redelivered, lost, swapped int
	shards, batches, records               int
}

func (d delivery) String() string {
	return fmt.Sprintf("%d records in %d batches on %d shards: %d duplicated, %d dropped then redelivered, %d lost for good, %d swapped",
		d.records, d.batches, d.shards, d.duplicated, d.redelivered, d.lost, d.swapped)
}

// schedule turns the commits, in the order they were written, into the
// batches a projector receives, with what the design allows to happen on
// the way (decisions 7 and 8): a commit delivered twice, or late, after
// later commits of its stream, possibly in a later batch; and a commit
// never delivered at all, as long as a later commit of its stream is (the
// projector must then fill the gap from the events table). The last commit
// of every stream is delivered at least once, as the fan-out guarantees.
//
// Records are spread over shards by partition key, as Kinesis does, and the
// shards' batches are interleaved at random.
func schedule(rng *rand.Rand, commits []published) ([][]events.KinesisEventRecord, delivery) {
	var d delivery
	last := map[string]int{} // stream key -> index of its last commit
	for i, c := range commits {
		last[c.key] = i
	}
	// Each item is a commit index; the order is the delivery order.
	order := make([]int, 0, len(commits))
	var late []struct{ c, after int }
	for i, c := range commits {
		switch r := rng.IntN(100); {
		case r < 8 && last[c.key] != i:
			d.lost++
			continue
		case r < 16:
			late = append(late, struct{ c, after int }{i, i + 1 + rng.IntN(len(commits))})
			d.redelivered++
			continue
		case r < 26:
			late = append(late, struct{ c, after int }{i, i + rng.IntN(len(commits))})
			d.duplicated++
		}
		order = append(order, i)
	}
	// Late records arrive after the position their delay names (beyond
	// the end: at the end).
	for _, l := range late {
		at := len(order)
		for j, c := range order {
			if c >= l.after {
				at = j
				break
			}
		}
		order = slices.Insert(order, at, l.c)
	}
	// Neighbours trade places, also across the batch boundaries cut below.
	for j := range order {
		if rng.IntN(100) < 15 {
			k := min(len(order)-1, j+1+rng.IntN(5))
			order[j], order[k] = order[k], order[j]
			d.swapped++
		}
	}

	d.shards = 1 + rng.IntN(4)
	perShard := make([][]int, d.shards)
	for _, c := range order {
		s := shardOf(commits[c].key, d.shards)
		perShard[s] = append(perShard[s], c)
	}
	maxBatch := 1 + rng.IntN(100)
	seq := 0
	var out [][]events.KinesisEventRecord
	for {
		var open []int
		for s, q := range perShard {
			if len(q) > 0 {
				open = append(open, s)
			}
		}
		if len(open) == 0 {
			break
		}
		s := open[rng.IntN(len(open))]
		n := min(len(perShard[s]), 1+rng.IntN(maxBatch))
		var batch []events.KinesisEventRecord
		for _, c := range perShard[s][:n] {
			seq++
			batch = append(batch, kinesisRecord(s, seq, commits[c]))
		}
		perShard[s] = perShard[s][n:]
		out = append(out, batch)
		d.records += n
	}
	d.batches = len(out)
	return out, d
}

func shardOf(key string, shards int) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(shards))
}

// kinesisRecord is the record Lambda hands the projector for an envelope;
// a record sent again is a new record with its own sequence number.
func kinesisRecord(shard, seq int, c published) events.KinesisEventRecord {
	s := fmt.Sprintf("4959%020d", seq)
	return events.KinesisEventRecord{
		EventID:     fmt.Sprintf("shardId-%012d:%s", shard, s),
		EventName:   "aws:kinesis:record",
		EventSource: "aws:kinesis",
		Kinesis:     events.KinesisRecord{PartitionKey: c.key, SequenceNumber: s, Data: c.data, KinesisSchemaVersion: "1.0"},
	}
}
