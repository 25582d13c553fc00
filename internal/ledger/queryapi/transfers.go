package queryapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/httpapi"
	"annals/internal/ledger/app"
	"annals/internal/ledger/transfer"
	"annals/internal/ledger/views"
)

// Transfers is the transfer view as the query routes read it.
type Transfers interface {
	// Transfer returns the row (consistent read), or found false.
	Transfer(ctx context.Context, tenant, transferID string) (row views.TransferRow, found bool, err error)
}

// transferBody is GET /transfers/{id}'s JSON.
type transferBody struct {
	TransferID    string `json:"transferId"`
	FromAccountID string `json:"fromAccountId"`
	ToAccountID   string `json:"toAccountId"`
	Amount        int64  `json:"amount"`
	Currency      string `json:"currency"`
	Reference     string `json:"reference,omitempty"`
	Status        string `json:"status"`
	Reason        string `json:"reason,omitempty"`
	Refunded      bool   `json:"refunded,omitempty"`
	Version       int64  `json:"version"`
	UpdatedAt     string `json:"updatedAt"`
}

func newTransferBody(t transfer.Transfer, version int64, updatedAt time.Time) transferBody {
	return transferBody{
		TransferID: t.ID, FromAccountID: t.FromAccountID, ToAccountID: t.ToAccountID, Amount: t.Amount,
		Currency: string(t.Currency), Reference: t.Reference, Status: string(t.Status), Reason: t.Reason,
		Refunded: t.Refunded, Version: version, UpdatedAt: updatedAt.UTC().Format(time.RFC3339Nano),
	}
}

// transfer serves GET /transfers/{id}. A transfer the view shows ended is
// answered from the view: it cannot change any more. One the view shows
// pending, or has not reached, is read from its stream (one Query), so a
// client polling right after POST /transfers sees every step at once.
func (h *Handler) transfer(ctx context.Context, tenant, id, corr string, l *httpapi.Line) events.APIGatewayV2HTTPResponse {
	stream, err := app.TransferStream(tenant, id)
	if err != nil {
		return l.Fail(httpapi.NewProblem(httpapi.KindNotFound, "no transfer with this id"), corr)
	}
	l.Add("stream", stream.String())
	var (
		body   transferBody
		source string
	)
	var row views.TransferRow
	var found bool
	if h.cfg.Transfers != nil {
		if row, found, err = h.cfg.Transfers.Transfer(ctx, tenant, id); err != nil {
			return l.FailErr(err, corr)
		}
	}
	if found && row.State.Transfer.Terminal() {
		body, source = newTransferBody(row.State.Transfer, row.Version, row.UpdatedAt), SourceView
	} else {
		cur, err := app.NewTransfers(h.cfg.Store).Load(ctx, stream)
		if errors.Is(err, eventstore.ErrNotFound) {
			return l.Fail(httpapi.NewProblem(httpapi.KindNotFound, "no transfer with this id"), corr)
		}
		if err != nil {
			return l.FailErr(err, corr)
		}
		body, source = newTransferBody(cur.State, cur.Head.Version(), cur.Head.RecordedAt()), SourceEvents
	}
	l.Add("source", source)
	l.Add("version", body.Version)
	return httpapi.JSON(http.StatusOK, body, map[string]string{
		"ETag": httpapi.ETag(body.Version), SourceHeader: source,
	}, corr)
}
