package queryapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/httpapi"
	"annals/internal/kit/personal"
	"annals/internal/ledger/app"
	"annals/internal/ledger/views"
)

// list renders a page of a list: nextCursor is null on the last page.
func (h *Handler) list(c call, items any, n int, next *cursor) events.APIGatewayV2HTTPResponse {
	c.log.Add("items", n)
	body := struct {
		Items      any     `json:"items"`
		NextCursor *string `json:"nextCursor"`
	}{Items: items}
	if next != nil {
		s := encodeCursor(*next)
		body.NextCursor = &s
	}
	return httpapi.JSON(http.StatusOK, body, nil, c.corr)
}

// ownerAccounts serves GET /accounts?owner=: the owner's accounts in
// account id order. One more row than the page is read, so that the last
// page says so instead of handing out a cursor to an empty one.
func (h *Handler) ownerAccounts(ctx context.Context, c call) events.APIGatewayV2HTTPResponse {
	after := ""
	if c.cursor != nil {
		after = c.cursor.After
	}
	rows, err := h.ownedPage(ctx, c.tenant, c.params.owner, after, c.params.limit+1)
	if err != nil {
		return c.log.FailErr(app.AccountError(err), c.corr)
	}
	items, next := page(rows, c.params.limit,
		// Every row of the index has an owner, and so a state.
		func(r views.AccountRow) accountBody {
			return newAccountBody(r.AccountID, r.State, r.Version, r.UpdatedAt)
		},
		func(last views.AccountRow) cursor {
			return cursor{Tenant: c.tenant, Route: c.route.String(), Scope: c.params.owner, After: last.AccountID}
		})
	return h.list(c, items, len(items), next)
}

// ownedPage reads a page of the owner's accounts under each value the
// account view indexes owners by: the owner's blind index under each data
// subject registered with it (none for an erased one), and the owner in
// the clear for accounts opened before owners were sealed. Most owners
// are one subject: two Queries a page.
func (h *Handler) ownedPage(ctx context.Context, tenant, owner, after string, limit int) ([]views.AccountRow, error) {
	subjects, err := h.cfg.Vault.Keys().Subjects(ctx, tenant, app.OwnerField, owner)
	if err != nil {
		return nil, err
	}
	indexes := []string{owner}
	for _, id := range subjects {
		idx, err := h.cfg.Vault.BlindIndex(ctx, personal.Subject{Tenant: tenant, ID: id}, app.OwnerField, owner)
		if errors.Is(err, personal.ErrErased) {
			continue // erased since Subjects answered
		}
		if err != nil {
			return nil, err
		}
		indexes = append(indexes, views.BlindOwner(idx))
	}
	var rows []views.AccountRow
	for _, idx := range indexes {
		more, err := h.cfg.Accounts.AccountsOfOwnerPage(ctx, tenant, idx, after, limit)
		if err != nil {
			return nil, err
		}
		rows = append(rows, more...)
	}
	slices.SortFunc(rows, func(a, b views.AccountRow) int { return strings.Compare(a.AccountID, b.AccountID) })
	if len(rows) > limit {
		rows = rows[:limit]
	}
	return rows, nil
}

// page turns rows read one past the page's limit into the page's items
// and, when that extra row came, the cursor after the page's last row:
// the last page says so rather than handing out a cursor to an empty one.
func page[R, B any](rows []R, limit int, body func(R) B, after func(last R) cursor) ([]B, *cursor) {
	items := make([]B, 0, len(rows))
	for i, r := range rows {
		if i == limit {
			next := after(rows[i-1])
			return items, &next
		}
		items = append(items, body(r))
	}
	return items, nil
}

// transactionBody is one entry of the history's JSON.
type transactionBody struct {
	EventID      string `json:"eventId"`
	Version      int64  `json:"version"`
	Kind         string `json:"kind"`
	Amount       int64  `json:"amount"`
	BalanceAfter int64  `json:"balanceAfter"`
	Reference    string `json:"reference"`
	TransferID   string `json:"transferId,omitempty"`
	OccurredAt   string `json:"occurredAt"`
	RecordedAt   string `json:"recordedAt"`
}

// transactions serves GET /accounts/{id}/transactions, newest first.
func (h *Handler) transactions(ctx context.Context, c call) events.APIGatewayV2HTTPResponse {
	var before int64
	if c.cursor != nil {
		before = c.cursor.Version
	}
	entries, err := h.cfg.History.Transactions(ctx, c.tenant, c.stream.ID, before, c.params.limit+1)
	if err != nil {
		return c.log.FailErr(app.AccountError(err), c.corr)
	}
	if len(entries) == 0 && c.cursor == nil {
		// An account without movements and no account at all both have
		// an empty history; only the second is a 404.
		if p := h.exists(ctx, c); p != nil {
			return *p
		}
	}
	items, next := page(entries, c.params.limit,
		func(e views.HistoryEntry) transactionBody {
			return transactionBody{
				EventID: e.EventID, Version: e.Version, Kind: e.Kind, Amount: e.Amount, BalanceAfter: e.BalanceAfter,
				Reference: e.Reference, TransferID: e.TransferID,
				OccurredAt: stamp(e.OccurredAt), RecordedAt: stamp(e.RecordedAt),
			}
		},
		func(last views.HistoryEntry) cursor {
			return cursor{Tenant: c.tenant, Route: c.route.String(), Scope: c.stream.ID, Version: last.Version}
		})
	return h.list(c, items, len(items), next)
}

// eventBody is one event of the audit trail's JSON: every event with all
// its metadata, its data in its type's current shape. SchemaVersion is the
// version the event was recorded at, DataSchemaVersion the one its data is
// shown in (larger when the data was lifted on read).
type eventBody struct {
	EventID           string          `json:"eventId"`
	Version           int64           `json:"version"`
	Type              string          `json:"type"`
	SchemaVersion     int             `json:"schemaVersion"`
	DataSchemaVersion int             `json:"dataSchemaVersion"`
	OccurredAt        string          `json:"occurredAt"`
	RecordedAt        string          `json:"recordedAt"`
	CommandID         string          `json:"commandId"`
	CorrelationID     string          `json:"correlationId"`
	CausationID       string          `json:"causationId"`
	Actor             string          `json:"actor"`
	Data              json.RawMessage `json:"data"`
}

// events serves GET /accounts/{id}/events: the stream from fromVersion on,
// gapless, from the events table (consistent reads). A fromVersion inside
// a commit starts at that event.
func (h *Handler) events(ctx context.Context, c call) events.APIGatewayV2HTTPResponse {
	from := c.params.fromVersion
	if c.cursor != nil {
		from = c.cursor.Version
	}
	pg, err := h.cfg.Store.Read(ctx, c.stream, from, c.params.limit)
	if err != nil {
		return c.log.FailErr(app.AccountError(err), c.corr)
	}
	if len(pg.Events) == 0 && c.cursor == nil {
		// Past the head of an account, an empty page; past nothing, a 404.
		if p := h.exists(ctx, c); p != nil {
			return *p
		}
	}
	items := make([]eventBody, len(pg.Events))
	for i, e := range pg.Events {
		items[i] = eventBody{
			EventID: e.ID, Version: e.Version, Type: e.Type, SchemaVersion: e.Recorded(), DataSchemaVersion: e.SchemaVersion,
			OccurredAt: stamp(e.OccurredAt), RecordedAt: stamp(e.RecordedAt),
			CommandID: e.CommandID, CorrelationID: e.CorrelationID, CausationID: e.CausationID, Actor: e.Actor,
			Data: e.Data,
		}
	}
	var next *cursor
	if pg.Next > 0 {
		next = &cursor{Tenant: c.tenant, Route: c.route.String(), Scope: c.stream.ID, Version: pg.Next}
	}
	return h.list(c, items, len(items), next)
}

// exists answers nil when the account's stream has events, else its
// problem response.
func (h *Handler) exists(ctx context.Context, c call) *events.APIGatewayV2HTTPResponse {
	_, err := h.cfg.Store.Read(ctx, c.stream, 1, 1)
	if err == nil {
		return nil
	}
	if !errors.Is(err, eventstore.ErrNotFound) {
		err = fmt.Errorf("does %s exist: %w", c.stream, err)
	}
	resp := c.log.FailErr(app.AccountError(err), c.corr)
	return &resp
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
