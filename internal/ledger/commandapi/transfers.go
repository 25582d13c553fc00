package commandapi

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/httpapi"
	"annals/internal/ledger/app"
	"annals/internal/ledger/transfer"
)

type transferBody struct {
	FromAccountID *string         `json:"fromAccountId"`
	ToAccountID   *string         `json:"toAccountId"`
	Amount        json.RawMessage `json:"amount"`
	Reference     string          `json:"reference"`
}

// decodeTransfer turns a POST /transfers body into a request. Field rules
// beyond JSON types are transfer.Validate's, which reports every field at
// once.
func decodeTransfer(req *events.APIGatewayV2HTTPRequest, body []byte, transferID string) (transfer.Request, *httpapi.Problem) {
	if p := httpapi.RequireJSON(req); p != nil {
		return transfer.Request{}, p
	}
	var b transferBody
	if p := httpapi.DecodeJSON(body, &b); p != nil {
		return transfer.Request{}, p
	}
	var fields []httpapi.FieldError
	amount, ok := httpapi.Int64("amount", b.Amount, &fields)
	if !ok && len(fields) == 0 {
		fields = append(fields, httpapi.FieldError{Field: "amount", Message: "is required"})
	}
	if b.FromAccountID == nil {
		fields = append(fields, httpapi.FieldError{Field: "fromAccountId", Message: "is required"})
	}
	if b.ToAccountID == nil {
		fields = append(fields, httpapi.FieldError{Field: "toAccountId", Message: "is required"})
	}
	if len(fields) > 0 {
		return transfer.Request{}, httpapi.Invalid(fields...)
	}
	r := transfer.Request{TransferID: transferID, FromAccountID: *b.FromAccountID, ToAccountID: *b.ToAccountID, Amount: amount, Reference: b.Reference}
	if err := transfer.Validate(r); err != nil {
		return r, httpapi.ProblemFor(err)
	}
	return r, nil
}

// transferStarted is POST /transfers' answer: the transfer is recorded and
// the process manager takes it from there.
type transferStarted struct {
	TransferID string `json:"transferId"`
	Status     string `json:"status"`
}

// startTransfer serves POST /transfers: the transfer is checked against
// both accounts as they are now and recorded; the process manager moves
// the money, in guarded steps, and the transfer's status says how it ended
// (GET /transfers/{id}).
func (h *Handler) startTransfer(ctx context.Context, req *events.APIGatewayV2HTTPRequest, id httpapi.Identity, body []byte, corr string, l *httpapi.Line) events.APIGatewayV2HTTPResponse {
	r, p := decodeTransfer(req, body, h.cfg.NewID())
	if p != nil {
		return l.Fail(p, corr)
	}
	stream, err := app.TransferStream(id.Tenant, r.TransferID)
	if err != nil {
		return l.FailErr(err, corr)
	}
	l.Add("stream", stream.String())
	cmd := app.TransferCommand{Tenant: id.Tenant, Request: r, Meta: h.meta(ctx, id, corr)}
	// The transfer's id is new to each request: it is no part of what the
	// request asked.
	asked := r
	asked.TransferID = ""
	return h.keyed(ctx, req, id, asked, corr, l, func(g *eventstore.Guard) (events.APIGatewayV2HTTPResponse, bool, error) {
		respond := func(t transfer.Requested) events.APIGatewayV2HTTPResponse {
			return httpapi.JSON(http.StatusAccepted, transferStarted{TransferID: t.TransferID, Status: string(transfer.StatusPending)},
				map[string]string{"ETag": httpapi.ETag(1), "Location": "/transfers/" + t.TransferID}, corr)
		}
		cmd.Once = once(g, respond)
		requested, err := h.commands.RequestTransfer(ctx, cmd)
		if err != nil {
			return events.APIGatewayV2HTTPResponse{}, false, err
		}
		l.Add("version", 1)
		return respond(requested), true, nil
	})
}
