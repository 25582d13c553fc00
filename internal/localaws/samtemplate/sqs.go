package samtemplate

import (
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// queueProperties is the subset of AWS::SQS::Queue the converter
// understands; FIFO queues and redrive policies are not among them yet.
type queueProperties struct {
	QueueName                     any
	SqsManagedSseEnabled          *bool
	MessageRetentionPeriod        *int64
	VisibilityTimeout             *int64
	DelaySeconds                  *int64
	MaximumMessageSize            *int64
	ReceiveMessageWaitTimeSeconds *int64
	Tags                          any
}

// Queue returns the CreateQueue input for the AWS::SQS::Queue with the
// given logical id, to be created under name.
func (t *Template) Queue(logicalID, name string) (*sqs.CreateQueueInput, error) {
	p, err := resourceProperties[queueProperties](t, logicalID, "AWS::SQS::Queue")
	if err != nil {
		return nil, err
	}
	attrs := map[string]string{}
	for _, a := range []struct {
		name types.QueueAttributeName
		v    *int64
	}{
		{types.QueueAttributeNameMessageRetentionPeriod, p.MessageRetentionPeriod},
		{types.QueueAttributeNameVisibilityTimeout, p.VisibilityTimeout},
		{types.QueueAttributeNameDelaySeconds, p.DelaySeconds},
		{types.QueueAttributeNameMaximumMessageSize, p.MaximumMessageSize},
		{types.QueueAttributeNameReceiveMessageWaitTimeSeconds, p.ReceiveMessageWaitTimeSeconds},
	} {
		if a.v != nil {
			attrs[string(a.name)] = strconv.FormatInt(*a.v, 10)
		}
	}
	if p.SqsManagedSseEnabled != nil {
		attrs[string(types.QueueAttributeNameSqsManagedSseEnabled)] = strconv.FormatBool(*p.SqsManagedSseEnabled)
	}
	in := &sqs.CreateQueueInput{QueueName: aws.String(name)}
	if len(attrs) > 0 {
		in.Attributes = attrs
	}
	return in, nil
}
