package samtemplate

import (
	"fmt"

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
		StreamMode types.StreamMode
	}
	ShardCount           *int32
	RetentionPeriodHours any
	StreamEncryption     any
	Tags                 any
}

// Stream returns the CreateStream input for the AWS::Kinesis::Stream with
// the given logical id, to be created under name.
func (t *Template) Stream(logicalID, name string) (*kinesis.CreateStreamInput, error) {
	r, err := t.Resource(logicalID, "AWS::Kinesis::Stream")
	if err != nil {
		return nil, err
	}
	if err := knownProperties(r, streamProperties{}); err != nil {
		return nil, fmt.Errorf("%s: %w", logicalID, err)
	}
	var p streamProperties
	if err := r.Decode(&p); err != nil {
		return nil, fmt.Errorf("%s properties: %w", logicalID, err)
	}
	in := &kinesis.CreateStreamInput{StreamName: aws.String(name)}
	mode := types.StreamModeProvisioned
	if p.StreamModeDetails != nil && p.StreamModeDetails.StreamMode != "" {
		mode = p.StreamModeDetails.StreamMode
	}
	switch mode {
	case types.StreamModeOnDemand:
		if p.ShardCount != nil {
			return nil, fmt.Errorf("%s: an ON_DEMAND stream has no ShardCount", logicalID)
		}
		in.StreamModeDetails = &types.StreamModeDetails{StreamMode: types.StreamModeOnDemand}
	case types.StreamModeProvisioned:
		if p.ShardCount == nil || *p.ShardCount < 1 {
			return nil, fmt.Errorf("%s: a PROVISIONED stream needs a positive ShardCount", logicalID)
		}
		in.ShardCount = p.ShardCount
		in.StreamModeDetails = &types.StreamModeDetails{StreamMode: types.StreamModeProvisioned}
	default:
		return nil, fmt.Errorf("%s: unknown StreamMode %q", logicalID, mode)
	}
	return in, nil
}
