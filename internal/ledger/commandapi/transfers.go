package commandapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/httpapi"
	"annals/internal/ledger/account"
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

// startTransfer serves POST /transfers: it checks the request against both
// accounts as they are now and records it as a new transfer stream. It
// moves no money: the process manager does, in guarded steps, and the
// transfer's status says how it ended (GET /transfers/{id}).
func (h *Handler) startTransfer(ctx context.Context, req *events.APIGatewayV2HTTPRequest, id httpapi.Identity, body []byte, corr string, l *httpapi.Line) events.APIGatewayV2HTTPResponse {
	r, p := decodeTransfer(req, body, h.cfg.NewID())
	if p != nil {
		return l.Fail(p, corr)
	}
	stream, err := transfer.Stream(id.Tenant, r.TransferID)
	if err != nil {
		return l.FailErr(err, corr)
	}
	l.Add("stream", stream.String())
	commandID := h.cfg.NewID()
	meta := eventstore.Metadata{CommandID: commandID, CorrelationID: corr, CausationID: commandID, Actor: id.Actor}
	run := func(guard *eventstore.Guard) events.APIGatewayV2HTTPResponse {
		return h.recordTransfer(ctx, id.Tenant, stream, r, meta, guard, corr, l)
	}
	key := httpapi.Header(req, "Idempotency-Key")
	if key == "" {
		return run(nil)
	}
	if !httpapi.ValidKey(key) {
		return l.Fail(httpapi.Invalid(httpapi.FieldError{Field: "Idempotency-Key", Message: "must be 1 to 255 printable ASCII characters"}), corr)
	}
	fp := fingerprint(id.Tenant, req.RequestContext.HTTP.Method, req.RawPath, body)
	return h.idempotent(ctx, id.Tenant, key, fp, corr, l, run)
}

func (h *Handler) recordTransfer(ctx context.Context, tenant string, stream eventstore.StreamID, r transfer.Request, meta eventstore.Metadata, guard *eventstore.Guard, corr string, l *httpapi.Line) events.APIGatewayV2HTTPResponse {
	var accounts [2]account.Account
	for i, a := range []struct{ field, id string }{{"fromAccountId", r.FromAccountID}, {"toAccountId", r.ToAccountID}} {
		s, err := app.AccountStream(tenant, a.id)
		if err == nil {
			var cur eventstore.Current[account.Account]
			cur, err = h.accounts.Load(ctx, s)
			accounts[i] = cur.State
		}
		if err != nil && !errors.Is(err, eventstore.ErrNotFound) && !errors.Is(err, eventstore.ErrInvalid) {
			return l.FailErr(err, corr)
		}
	}
	requested, err := transfer.Decide(accounts[0], accounts[1], r)
	if err != nil {
		return l.FailErr(err, corr)
	}
	evs, err := transfer.Encode(requested)
	if err != nil {
		return l.FailErr(err, corr)
	}
	resp := httpapi.JSON(http.StatusAccepted, transferStarted{TransferID: r.TransferID, Status: string(transfer.StatusPending)},
		map[string]string{"ETag": httpapi.ETag(1), "Location": "/transfers/" + r.TransferID}, corr)
	l.Add("version", 1)
	var g *eventstore.Guard
	if guard != nil {
		outcome, err := json.Marshal(storable(resp))
		if err != nil {
			return l.FailErr(err, corr)
		}
		g = &eventstore.Guard{Tenant: guard.Tenant, CommandID: guard.CommandID, Outcome: outcome}
	}
	_, err = h.cfg.Store.Append(ctx, eventstore.NewStream(stream), evs, meta, g)
	var applied *eventstore.AlreadyAppliedError
	switch {
	case err == nil:
		return resp
	case errors.As(err, &applied):
		return replayOutcome(applied.Outcome, corr)
	}
	return l.FailErr(err, corr)
}
