package samtemplate

import (
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// streamProperties is the subset of AWS::Kinesis::Stream the converter
// understands. Retention and encryption are set on the deployed stream but
// are not part of CreateStream (separate calls that local servers ignore);
// they are named here so that they are accepted, not silently dropped by
// accident.
type streamProperties struct {
	Name              any
	StreamModeDetails *struct {
		StreamMode any
	}
	ShardCount           any
	RetentionPeriodHours any
	StreamEncryption     any
	Tags                 any
}

// Stream returns the CreateStream input for the AWS::Kinesis::Stream with
// the given logical id, to be created under name.
func (t *Template) Stream(logicalID, name string) (*kinesis.CreateStreamInput, error) {
	p, err := resourceProperties[streamProperties](t, logicalID, "AWS::Kinesis::Stream")
	if err != nil {
		return nil, err
	}
	in := &kinesis.CreateStreamInput{StreamName: aws.String(name)}
	// The mode and the shard count may follow parameters (their defaults
	// here), and the count may be AWS::NoValue for an on-demand stream.
	mode := types.StreamModeProvisioned
	if p.StreamModeDetails != nil {
		m, set, err := t.optional(p.StreamModeDetails.StreamMode)
		if err != nil {
			return nil, fmt.Errorf("%s StreamMode: %w", logicalID, err)
		}
		if set {
			mode = types.StreamMode(m)
		}
	}
	count, counted, err := t.optional(p.ShardCount)
	if err != nil {
		return nil, fmt.Errorf("%s ShardCount: %w", logicalID, err)
	}
	var shards *int32
	if counted {
		n, err := strconv.ParseInt(count, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%s ShardCount %q: %w", logicalID, count, err)
		}
		shards = aws.Int32(int32(n))
	}
	switch mode {
	case types.StreamModeOnDemand:
		if shards != nil {
			return nil, fmt.Errorf("%s: an ON_DEMAND stream has no ShardCount", logicalID)
		}
		in.StreamModeDetails = &types.StreamModeDetails{StreamMode: types.StreamModeOnDemand}
	case types.StreamModeProvisioned:
		if shards == nil || *shards < 1 {
			return nil, fmt.Errorf("%s: a PROVISIONED stream needs a positive ShardCount", logicalID)
		}
		in.ShardCount = shards
		in.StreamModeDetails = &types.StreamModeDetails{StreamMode: types.StreamModeProvisioned}
	default:
		return nil, fmt.Errorf("%s: unknown StreamMode %q", logicalID, mode)
	}
	return in, nil
}

// optional resolves a property with the parameters' defaults: Fn::If
// through the template's conditions, Ref AWS::NoValue (or no value) as
// unset.
func (t *Template) optional(v any) (string, bool, error) {
	if v == nil {
		return "", false, nil
	}
	if m, ok := v.(map[string]any); ok && len(m) == 1 {
		if m["Ref"] == "AWS::NoValue" {
			return "", false, nil
		}
		if args, ok := m["Fn::If"].([]any); ok && len(args) == 3 {
			name, _ := args[0].(string)
			holds, err := t.condition(name, noNames{}, nil, 0)
			if err != nil {
				return "", false, err
			}
			if holds {
				return t.optional(args[1])
			}
			return t.optional(args[2])
		}
	}
	s, err := t.resolve(v, noNames{}, nil)
	return s, err == nil, err
}

// noNames resolves no resource: a stream's properties name parameters only.
type noNames struct{}

func (noNames) Ref(string) (string, bool)            { return "", false }
func (noNames) GetAtt(string, string) (string, bool) { return "", false }
