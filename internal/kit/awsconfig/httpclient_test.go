package awsconfig_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"annals/internal/kit/awsconfig"
)

type recording struct{ body io.Reader }

func (r *recording) Do(req *http.Request) (*http.Response, error) {
	r.body = req.Body
	return &http.Response{StatusCode: 200, Body: http.NoBody}, nil
}

// net/http must read request bodies through Read, never WriteTo: a body the
// SDK closes while net/http checks for leftover bytes would answer io.EOF
// as an error through WriteTo, and net/http would close the connection
// under an unread response (see SafeBodies).
func TestSafeBodiesHideWriteTo(t *testing.T) {
	next := &recording{}
	client := awsconfig.SafeBodies(next)
	payload := []byte(`{"TableName":"t"}`)
	req, err := http.NewRequest("POST", "http://127.0.0.1/", io.NopCloser(bytes.NewReader(payload)))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := req.Body.(io.WriterTo); !ok {
		t.Fatal("the test's body should offer WriteTo, as the SDK's does")
	}
	if _, err := client.Do(req); err != nil {
		t.Fatal(err)
	}
	if _, ok := next.body.(io.WriterTo); ok {
		t.Fatal("the body reached the transport with WriteTo")
	}
	got, err := io.ReadAll(next.body)
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("the body read %q, %v; want %q", got, err, payload)
	}
	if _, ok := req.Body.(io.WriterTo); !ok {
		t.Error("the caller's request was changed")
	}
}
