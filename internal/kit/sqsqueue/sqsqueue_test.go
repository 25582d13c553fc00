package sqsqueue_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/smithy-go"

	"annals/internal/kit/sqsqueue"
	"annals/internal/localaws/awstest"
)

// A message sent reaches the queue as it was given; a queue that is not
// there is an error naming it.
func TestSendOnMoto(t *testing.T) {
	t.Parallel()
	url := awstest.Queue(t, "ProjectorDeadLetterQueue")
	c := awstest.SQS(t)
	ctx := t.Context()
	body := `{"view":"accounts","reason":"bad <data> & more"}`
	if err := sqsqueue.New(c, url).Send(ctx, body); err != nil {
		t.Fatal(err)
	}
	if got := awstest.ReadQueue(t, url, 1); len(got) != 1 || got[0] != body {
		t.Errorf("received %q, want the one message sent", got)
	}

	gone := url + "-missing"
	err := sqsqueue.New(c, gone).Send(ctx, body)
	var api smithy.APIError
	if !errors.As(err, &api) || !strings.Contains(err.Error(), "send to "+gone) {
		t.Errorf("send to a missing queue: %v, want the service's refusal, naming the queue", err)
	}
}
