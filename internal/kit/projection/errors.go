package projection

import (
	"errors"
	"fmt"

	"github.com/aws/smithy-go"

	"annals/internal/kit/eventstore"
)

// PoisonError is an event a view can never apply as it is: retrying it
// would fail the same way forever.
type PoisonError struct {
	Event  eventstore.Event // the event that stopped the stream
	Reason string
}

func (e *PoisonError) Error() string {
	return fmt.Sprintf("poison event %s %d: %s", e.Event.Stream, e.Event.Version, e.Reason)
}

// invalidWrite reports whether DynamoDB refused a write for its content
// (an item over the size limit, a value it does not accept): the same
// write would be refused again, so the event behind it is poison. Every
// other failure (throttling, 5xx, timeouts, a missing table or permission)
// is retried: quarantining a healthy stream for an outage would need a
// redrive to undo.
func invalidWrite(err error) bool {
	if err == nil {
		return false
	}
	var api smithy.APIError
	return errors.As(err, &api) && api.ErrorCode() == "ValidationException"
}
