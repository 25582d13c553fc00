package queryapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/httpapi"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
	"annals/internal/ledger/views"
)

// SourceHeader says where an account view response was read: "view" (the
// account view, a query table) or "events" (rebuilt from the events table).
const SourceHeader = "Annals-Read-Source"

// Read sources.
const (
	SourceView   = "view"
	SourceEvents = "events"
)

// accountBody is the account view's JSON.
type accountBody struct {
	AccountID string `json:"accountId"`
	Owner     string `json:"owner"`
	Currency  string `json:"currency"`
	Balance   int64  `json:"balance"`
	Status    string `json:"status"`
	Version   int64  `json:"version"`
	UpdatedAt string `json:"updatedAt"`
}

func newAccountBody(accountID string, a account.Account, version int64, updatedAt time.Time) accountBody {
	return accountBody{
		AccountID: accountID, Owner: a.Owner, Currency: string(a.Currency), Balance: a.Balance,
		Status: string(a.Status), Version: version, UpdatedAt: updatedAt.UTC().Format(time.RFC3339Nano),
	}
}

// visible reports whether a view row shows an account: a row quarantined
// before its first event has no state to show.
func visible(r views.AccountRow) bool { return r.State.Status != account.StatusNone }

// account serves GET /accounts/{id}: from the view, or rebuilt from the
// events table at a version or time, or at a version at least minVersion.
func (h *Handler) account(ctx context.Context, req *events.APIGatewayV2HTTPRequest, c call) events.APIGatewayV2HTTPResponse {
	p := c.params
	var (
		body   accountBody
		source string
	)
	switch {
	case p.version > 0:
		past, err := h.replay.At(ctx, c.stream, p.version)
		if err != nil {
			return c.log.FailErr(app.AccountError(err), c.corr)
		}
		body, source = newAccountBody(c.stream.ID, past.State, past.Version, past.RecordedAt), SourceEvents
	case p.hasAt:
		past, err := h.replay.AsOf(ctx, c.stream, p.at)
		if errors.Is(err, eventstore.ErrVersionNotFound) {
			return c.log.Fail(httpapi.NewProblem(httpapi.KindVersionNotFound, "the account did not exist yet at "+p.at.UTC().Format(time.RFC3339Nano)), c.corr)
		}
		if err != nil {
			return c.log.FailErr(app.AccountError(err), c.corr)
		}
		body, source = newAccountBody(c.stream.ID, past.State, past.Version, past.RecordedAt), SourceEvents
	default:
		row, found, err := h.cfg.Accounts.Account(ctx, c.tenant, c.stream.ID)
		if err != nil {
			return c.log.FailErr(app.AccountError(err), c.corr)
		}
		switch {
		case found && visible(row) && row.Version >= p.minVersion:
			body, source = newAccountBody(c.stream.ID, row.State, row.Version, row.UpdatedAt), SourceView
		case p.minVersion == 0:
			return c.log.FailErr(fmt.Errorf("account view %s: %w", c.stream, account.ErrAccountNotFound), c.corr)
		default:
			// The view lags behind the version the caller has seen: the
			// events table has it (a load is one Query and a fold of at
			// most K events).
			cur, err := h.replay.Load(ctx, c.stream)
			if err != nil {
				return c.log.FailErr(app.AccountError(err), c.corr)
			}
			if v := cur.Head.Version(); v < p.minVersion {
				return c.log.Fail(httpapi.NewProblem(httpapi.KindVersionNotFound,
					fmt.Sprintf("the account is at version %d, before %d", v, p.minVersion)), c.corr)
			}
			body, source = newAccountBody(c.stream.ID, cur.State, cur.Head.Version(), cur.Head.RecordedAt()), SourceEvents
		}
	}
	c.log.Add("source", source)
	c.log.Add("version", body.Version)
	etag := httpapi.ETag(body.Version)
	headers := map[string]string{
		"ETag":       etag,
		SourceHeader: source,
		// A version's state never changes: a client may keep it, and
		// revalidate with If-None-Match.
		"Cache-Control": "private, no-cache",
	}
	if noneMatch(httpapi.Header(req, "If-None-Match"), etag) {
		return notModified(headers, c.corr)
	}
	return httpapi.JSON(http.StatusOK, body, headers, c.corr)
}

// noneMatch reports whether If-None-Match names the entity tag, by weak
// comparison as RFC 9110 has it for GET: "*" or a list holding it, with or
// without W/.
func noneMatch(header, etag string) bool {
	header = strings.TrimSpace(header)
	if header == "" {
		return false
	}
	if header == "*" {
		return true
	}
	for _, t := range strings.Split(header, ",") {
		if strings.TrimPrefix(strings.TrimSpace(t), "W/") == etag {
			return true
		}
	}
	return false
}

func notModified(headers map[string]string, corr string) events.APIGatewayV2HTTPResponse {
	headers[httpapi.CorrelationHeader] = corr
	return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusNotModified, Headers: headers}
}
