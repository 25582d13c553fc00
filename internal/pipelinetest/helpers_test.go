package pipelinetest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"annals/internal/projection"
)

// totalMu guards the delivery totals that parallel seeds add to.
var totalMu sync.Mutex

// deadLetters is the dead-letter queue in memory: it keeps what was sent.
type deadLetters struct {
	mu   sync.Mutex
	sent []projection.DeadLetter
}

func (d *deadLetters) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	var l projection.DeadLetter
	if err := json.Unmarshal([]byte(aws.ToString(in.MessageBody)), &l); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sent = append(d.sent, l)
	return &sqs.SendMessageOutput{MessageId: aws.String(fmt.Sprint(len(d.sent)))}, nil
}

func (d *deadLetters) letters() []projection.DeadLetter {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]projection.DeadLetter(nil), d.sent...)
}
