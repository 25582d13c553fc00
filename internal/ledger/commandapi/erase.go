package commandapi

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"annals/internal/kit/httpapi"
	"annals/internal/kit/personal"
)

// erased is the answer to an erasure: the record the key store keeps.
type erased struct {
	DataSubject string    `json:"dataSubject"`
	ErasedAt    time.Time `json:"erasedAt"`
	ErasedBy    string    `json:"erasedBy"`
}

// erase deletes a data subject's key, after which every sealed copy of
// their personal data reads as erased (docs/operations.md, "Personal data and erasure").
// It is idempotent: erasing again answers the first erasure's record. It
// takes no body (or an empty object) and no Idempotency-Key: a repeat is
// harmless by itself.
func (h *Handler) erase(ctx context.Context, req *events.APIGatewayV2HTTPRequest, id httpapi.Identity, body []byte, corr string, l *httpapi.Line) events.APIGatewayV2HTTPResponse {
	if len(strings.TrimSpace(string(body))) > 0 {
		if p := httpapi.RequireJSON(req); p != nil {
			return l.Fail(p, corr)
		}
		var b struct{}
		if p := httpapi.DecodeJSON(body, &b); p != nil {
			return l.Fail(p, corr)
		}
	}
	subject := personal.Subject{Tenant: id.Tenant, ID: strings.Split(strings.Trim(req.RawPath, "/"), "/")[1]}
	if problem := personal.IDProblem(subject.ID); problem != "" {
		return l.Fail(httpapi.Invalid(httpapi.FieldError{Field: "subject", Message: problem}), corr)
	}
	l.Add("dataSubject", subject.ID)
	e, err := h.cfg.Vault.Keys().Erase(ctx, subject, id.Actor, h.cfg.Now())
	if err != nil {
		return l.FailErr(err, corr)
	}
	return httpapi.JSON(http.StatusOK, erased{DataSubject: subject.ID, ErasedAt: e.At.UTC(), ErasedBy: e.By}, nil, corr)
}
