package rebuild

import (
	"context"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"annals/internal/kit/eventstore"
)

// Meter counts what a DynamoDB client costs: every request sent (retries
// included, as DynamoDB bills them) by operation, and the capacity units
// DynamoDB reports having consumed. It asks for the report itself
// (ReturnConsumedCapacity TOTAL) on every operation that supports it. The
// counts are kept in the event store's Meter, so both read the same way.
type Meter struct {
	eventstore.Meter
}

// Usage is what a Meter counted; ReadUnits and WriteUnits are as DynamoDB
// reported them.
type Usage = eventstore.Usage

// NewMeter returns a meter that has counted nothing.
func NewMeter() *Meter { return &Meter{} }

// Register is a dynamodb client option: dynamodb.NewFromConfig(cfg, m.Register).
func (m *Meter) Register(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, m.addTo)
}

func (m *Meter) addTo(stack *middleware.Stack) error {
	if err := stack.Initialize.Add(middleware.InitializeMiddlewareFunc("annalsCapacity", m.capacity), middleware.After); err != nil {
		return err
	}
	// After the retry middleware: once per attempt.
	return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("annalsRequests", m.count), middleware.After)
}

func (m *Meter) count(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
	m.AddRequest(awsmiddleware.GetOperationName(ctx))
	return next.HandleFinalize(ctx, in)
}

func (m *Meter) capacity(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
	const total = types.ReturnConsumedCapacityTotal
	switch p := in.Parameters.(type) {
	case *dynamodb.ScanInput:
		p.ReturnConsumedCapacity = total
	case *dynamodb.QueryInput:
		p.ReturnConsumedCapacity = total
	case *dynamodb.GetItemInput:
		p.ReturnConsumedCapacity = total
	case *dynamodb.PutItemInput:
		p.ReturnConsumedCapacity = total
	case *dynamodb.TransactWriteItemsInput:
		p.ReturnConsumedCapacity = total
	}
	out, md, err := next.HandleInitialize(ctx, in)
	var read, write float64
	switch r := out.Result.(type) {
	case *dynamodb.ScanOutput:
		read = units(r.ConsumedCapacity)
	case *dynamodb.QueryOutput:
		read = units(r.ConsumedCapacity)
	case *dynamodb.GetItemOutput:
		read = units(r.ConsumedCapacity)
	case *dynamodb.PutItemOutput:
		write = units(r.ConsumedCapacity)
	case *dynamodb.TransactWriteItemsOutput:
		for i := range r.ConsumedCapacity {
			write += units(&r.ConsumedCapacity[i])
		}
	}
	if read+write > 0 {
		m.AddCapacity(read, write)
	}
	return out, md, err
}

func units(c *types.ConsumedCapacity) float64 {
	if c == nil || c.CapacityUnits == nil {
		return 0
	}
	return *c.CapacityUnits
}
