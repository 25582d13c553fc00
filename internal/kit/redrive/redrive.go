// Package redrive owns the repairs of the event pipeline that start from
// the events table, the system of record (docs/operations.md): putting a
// stream's commits back on the events stream when the fan-out could not
// deliver them, and lifting a view's quarantine once its cause is fixed,
// one stream at a time or from the dead-letter queue's letters.
package redrive

import (
	"context"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/fanout"
	"annals/internal/kit/projection"
)

// DynamoDB is the part of the DynamoDB client that reads the events table.
type DynamoDB interface {
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// Publisher puts commits on the events stream; *fanout.Handler is one.
type Publisher interface {
	Publish(ctx context.Context, commits [][]eventstore.Event) (fanout.Published, error)
}

// Republished is what Republish did.
type Republished struct {
	Commits  int
	From, To int64 // the versions the republished commits hold
	fanout.Published
}

// Republish puts the stream's commits that hold versions from..to (to 0:
// up to the head) back on the events stream, whole: a commit is one record,
// so a range that starts or ends inside a commit takes all of it.
// Consumers skip what they already applied.
func Republish(ctx context.Context, db DynamoDB, table string, pub Publisher, stream eventstore.StreamID, from, to int64) (Republished, error) {
	var res Republished
	if err := stream.Validate(); err != nil {
		return res, err
	}
	if from < 1 || to != 0 && to < from {
		return res, fmt.Errorf("republish %s: the range %d..%d is empty", stream, from, to)
	}
	start, err := holding(ctx, db, table, stream, from)
	if err != nil {
		return res, err
	}
	pk, sk := eventstore.KeyNames()
	cond := "#pk = :pk AND #sk >= :from"
	values := map[string]types.AttributeValue{
		":pk":   &types.AttributeValueMemberS{Value: stream.Key()},
		":from": &types.AttributeValueMemberN{Value: strconv.FormatInt(start, 10)},
	}
	if to != 0 {
		cond = "#pk = :pk AND #sk BETWEEN :from AND :to"
		values[":to"] = &types.AttributeValueMemberN{Value: strconv.FormatInt(to, 10)}
	}
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(table),
		KeyConditionExpression:    aws.String(cond),
		ExpressionAttributeNames:  map[string]string{"#pk": pk, "#sk": sk},
		ExpressionAttributeValues: values,
		ConsistentRead:            aws.Bool(true),
	}
	var commits [][]eventstore.Event
	for {
		out, err := db.Query(ctx, in)
		if err != nil {
			return res, fmt.Errorf("read %s from %d in %s: %w", stream, start, table, err)
		}
		for _, it := range out.Items {
			if eventstore.KindOf(it) != eventstore.KindCommit {
				continue
			}
			evs, err := eventstore.DecodeCommit(it)
			if err != nil {
				return res, fmt.Errorf("read %s from %d in %s: %w", stream, start, table, err)
			}
			if evs[len(evs)-1].Version < from {
				continue // the head is below from
			}
			commits = append(commits, evs)
		}
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	if len(commits) == 0 {
		return res, fmt.Errorf("republish %s: the events table holds no version %d: %w", stream, from, eventstore.ErrNotFound)
	}
	last := commits[len(commits)-1]
	res.Commits, res.From, res.To = len(commits), commits[0][0].Version, last[len(last)-1].Version
	res.Published, err = pub.Publish(ctx, commits)
	if err != nil {
		return res, fmt.Errorf("republish %s %d..%d: %w", stream, res.From, res.To, err)
	}
	return res, nil
}

// holding returns the sort key of the commit that holds version v: the
// greatest commit key at or below it, since commits are keyed by their
// first version and follow each other without holes. A snapshot may sit
// just below v, hence two items.
func holding(ctx context.Context, db DynamoDB, table string, stream eventstore.StreamID, v int64) (int64, error) {
	pk, sk := eventstore.KeyNames()
	out, err := db.Query(ctx, &dynamodb.QueryInput{
		TableName:                aws.String(table),
		KeyConditionExpression:   aws.String("#pk = :pk AND #sk <= :v"),
		ExpressionAttributeNames: map[string]string{"#pk": pk, "#sk": sk},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: stream.Key()},
			":v":  &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)},
		},
		ScanIndexForward: aws.Bool(false),
		Limit:            aws.Int32(2),
		ConsistentRead:   aws.Bool(true),
	})
	if err != nil {
		return 0, fmt.Errorf("find the commit of %s holding %d in %s: %w", stream, v, table, err)
	}
	for _, it := range out.Items {
		if eventstore.KindOf(it) != eventstore.KindCommit {
			continue
		}
		_, key, err := eventstore.ItemKey(it)
		if err != nil {
			return 0, fmt.Errorf("find the commit of %s holding %d in %s: %w", stream, v, table, err)
		}
		return key.Version, nil
	}
	return v, nil
}

// Lifter lifts a stream's quarantine in one view and catches the stream up
// from the events table; *projection.Projection is one.
type Lifter interface {
	Name() string
	// Holds reports whether the view keeps streams like this one.
	Holds(stream eventstore.StreamID) bool
	Lift(ctx context.Context, stream eventstore.StreamID) (projection.Position, error)
}

// Lifted is where a stream stands in one view after a lift.
type Lifted struct {
	View     string
	Position projection.Position
}

// Healed reports whether the stream is out of quarantine.
func (l Lifted) Healed() bool { return l.Position.Quarantine == nil }

func (l Lifted) String() string {
	if q := l.Position.Quarantine; q != nil {
		return fmt.Sprintf("%s: still quarantined at %d after version %d: %s", l.View, q.At, l.Position.Version, q.Reason)
	}
	return fmt.Sprintf("%s: healed, at version %d", l.View, l.Position.Version)
}

// Lift lifts the stream's quarantine in every view given that holds such
// streams and brings each up to the events table's head. A stream still
// poisoned is quarantined again (with a new dead letter) and reported so.
// A stream no view given holds is an error.
func Lift(ctx context.Context, stream eventstore.StreamID, views ...Lifter) ([]Lifted, error) {
	var out []Lifted
	var names []string
	for _, v := range views {
		names = append(names, v.Name())
		if !v.Holds(stream) {
			continue
		}
		pos, err := v.Lift(ctx, stream)
		if err != nil {
			return out, fmt.Errorf("lift %s in the %s view: %w", stream, v.Name(), err)
		}
		out = append(out, Lifted{View: v.Name(), Position: pos})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("lift %s: none of the views %v holds %q streams", stream, names, stream.Category)
	}
	return out, nil
}
