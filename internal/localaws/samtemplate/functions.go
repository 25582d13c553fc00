package samtemplate

import (
	"fmt"
	"slices"
	"strings"
)

// SourceKind names the service a stream event source reads.
type SourceKind string

// The stream event source kinds of AWS::Serverless::Function.
const (
	KindDynamoDB SourceKind = "dynamodb"
	KindKinesis  SourceKind = "kinesis"
)

// ReportBatchItemFailures is the FunctionResponseTypes value with which a
// handler reports the first record it did not process.
const ReportBatchItemFailures = "ReportBatchItemFailures"

// Lambda's defaults for stream event source mappings.
const (
	DefaultBatchSize            = 100
	DefaultMaximumRetryAttempts = -1 // retry until the record expires
)

// EventSource is one DynamoDB or Kinesis event of a function: the event
// source mapping SAM creates from it, with the stream and the failure
// destination named by the logical ids of the template's resources.
type EventSource struct {
	Function string // the function's logical id
	Event    string // the event's name under Events
	Kind     SourceKind
	// Source is the logical id of the table (DynamoDB, its StreamArn) or
	// of the Kinesis stream (its Arn).
	Source                         string
	StartingPosition               string // TRIM_HORIZON or LATEST
	BatchSize                      int
	MaximumBatchingWindowInSeconds int
	FunctionResponseTypes          []string
	// MaximumRetryAttempts is -1 when retries are unbounded.
	MaximumRetryAttempts int
	// MaximumRecordAgeInSeconds is -1 when records never expire out of the
	// mapping.
	MaximumRecordAgeInSeconds  int
	ParallelizationFactor      int
	BisectBatchOnFunctionError bool
	// OnFailure is the logical id of the SQS queue that receives a record
	// of each batch given up on; empty when there is none.
	OnFailure string
	// Filters are the FilterCriteria patterns, as JSON. A record is
	// delivered when it matches any of them (or when there are none).
	Filters []string
	Enabled bool
}

// ReportsBatchItemFailures tells whether the handler's response names the
// records to resend.
func (s EventSource) ReportsBatchItemFailures() bool {
	return slices.Contains(s.FunctionResponseTypes, ReportBatchItemFailures)
}

// streamEventProperties is the subset of the DynamoDB and Kinesis event
// properties the converter understands.
type streamEventProperties struct {
	Stream                         any
	StartingPosition               string
	BatchSize                      *int
	MaximumBatchingWindowInSeconds *int
	FunctionResponseTypes          []string
	MaximumRetryAttempts           *int
	MaximumRecordAgeInSeconds      *int
	ParallelizationFactor          *int
	BisectBatchOnFunctionError     bool
	DestinationConfig              *struct {
		OnFailure *struct {
			Destination any
			Type        string
		}
	}
	FilterCriteria *struct {
		Filters []struct {
			Pattern string
		}
	}
	Enabled *bool
}

// functionEvent is one entry of a function's Events.
type functionEvent struct {
	Type       string
	Properties map[string]any
}

// EventSources returns the DynamoDB and Kinesis events of every
// AWS::Serverless::Function, ordered by function and event name. Other event
// types (HttpApi, ...) are not stream sources and are left out.
func (t *Template) EventSources() ([]EventSource, error) {
	var out []EventSource
	err := t.eachEvent(func(id, name string, ev functionEvent) error {
		var kind SourceKind
		switch ev.Type {
		case "DynamoDB":
			kind = KindDynamoDB
		case "Kinesis":
			kind = KindKinesis
		default:
			return nil
		}
		s, err := t.eventSource(id, name, kind, ev)
		if err != nil {
			return fmt.Errorf("%s event %s: %w", id, name, err)
		}
		out = append(out, s)
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b EventSource) int {
		if c := strings.Compare(a.Function, b.Function); c != 0 {
			return c
		}
		return strings.Compare(a.Event, b.Event)
	})
	return out, nil
}

func (t *Template) eventSource(function, name string, kind SourceKind, ev functionEvent) (EventSource, error) {
	r := Resource{Properties: ev.Properties}
	if err := knownProperties(r, streamEventProperties{}); err != nil {
		return EventSource{}, err
	}
	var p streamEventProperties
	if err := r.Decode(&p); err != nil {
		return EventSource{}, err
	}
	s := EventSource{
		Function:                       function,
		Event:                          name,
		Kind:                           kind,
		StartingPosition:               p.StartingPosition,
		BatchSize:                      orDefault(p.BatchSize, DefaultBatchSize),
		MaximumBatchingWindowInSeconds: orDefault(p.MaximumBatchingWindowInSeconds, 0),
		FunctionResponseTypes:          p.FunctionResponseTypes,
		MaximumRetryAttempts:           orDefault(p.MaximumRetryAttempts, DefaultMaximumRetryAttempts),
		MaximumRecordAgeInSeconds:      orDefault(p.MaximumRecordAgeInSeconds, -1),
		ParallelizationFactor:          orDefault(p.ParallelizationFactor, 1),
		BisectBatchOnFunctionError:     p.BisectBatchOnFunctionError,
		Enabled:                        p.Enabled == nil || *p.Enabled,
	}
	switch s.StartingPosition {
	case "TRIM_HORIZON", "LATEST":
	default:
		return s, fmt.Errorf("StartingPosition %q: want TRIM_HORIZON or LATEST", s.StartingPosition)
	}
	if s.BatchSize < 1 || s.BatchSize > 10000 {
		return s, fmt.Errorf("BatchSize %d: want 1 to 10000", s.BatchSize)
	}
	if s.MaximumRetryAttempts < -1 {
		return s, fmt.Errorf("MaximumRetryAttempts %d: want -1 (unbounded) or more", s.MaximumRetryAttempts)
	}
	for _, rt := range s.FunctionResponseTypes {
		if rt != ReportBatchItemFailures {
			return s, fmt.Errorf("unknown FunctionResponseTypes value %q", rt)
		}
	}

	srcType, srcAtt := "AWS::DynamoDB::Table", "StreamArn"
	if kind == KindKinesis {
		srcType, srcAtt = "AWS::Kinesis::Stream", "Arn"
	}
	var err error
	if s.Source, err = t.getAtt(p.Stream, srcType, srcAtt); err != nil {
		return s, fmt.Errorf("Stream: %w", err)
	}
	if d := p.DestinationConfig; d != nil && d.OnFailure != nil {
		if s.OnFailure, err = t.getAtt(d.OnFailure.Destination, "AWS::SQS::Queue", "Arn"); err != nil {
			return s, fmt.Errorf("DestinationConfig.OnFailure.Destination: %w", err)
		}
	}
	if p.FilterCriteria != nil {
		for i, f := range p.FilterCriteria.Filters {
			if strings.TrimSpace(f.Pattern) == "" {
				return s, fmt.Errorf("FilterCriteria.Filters[%d] has no Pattern", i)
			}
			s.Filters = append(s.Filters, f.Pattern)
		}
	}
	return s, nil
}

// getAtt resolves v, which must be {"Fn::GetAtt": [id, att]}, to the logical
// id of a resource of type wantType.
func (t *Template) getAtt(v any, wantType, att string) (string, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return "", fmt.Errorf("%v: want !GetAtt <%s>.%s", v, wantType, att)
	}
	args, ok := m["Fn::GetAtt"].([]any)
	if !ok || len(args) != 2 {
		return "", fmt.Errorf("%v: want !GetAtt <%s>.%s", v, wantType, att)
	}
	id, _ := args[0].(string)
	got, _ := args[1].(string)
	if got != att {
		return "", fmt.Errorf("!GetAtt %s.%s: want the %s attribute", id, got, att)
	}
	if _, err := t.Resource(id, wantType); err != nil {
		return "", err
	}
	return id, nil
}

func orDefault(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

// eachEvent calls visit with every event of every AWS::Serverless::Function.
func (t *Template) eachEvent(visit func(function, name string, ev functionEvent) error) error {
	for id, r := range t.Resources {
		if r.Type != "AWS::Serverless::Function" {
			continue
		}
		var p struct {
			Events map[string]functionEvent
		}
		if err := r.Decode(&p); err != nil {
			return fmt.Errorf("%s events: %w", id, err)
		}
		for name, ev := range p.Events {
			if err := visit(id, name, ev); err != nil {
				return err
			}
		}
	}
	return nil
}
