package awsconfig

import (
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// SafeBodies returns client (the SDK's default one when nil) with one
// correction: request bodies reach net/http without their WriteTo method.
//
// The SDK wraps a request's body in a closer that it closes as soon as the
// response's headers arrive. net/http, once it has written Content-Length
// bytes, copies the rest of the body to check that nothing is left over;
// through WriteTo, a body closed in between answers io.EOF as an error, and
// net/http then closes the connection under the response, whose body has
// not been read yet. The SDK sees a broken response and sends the request
// again, although the service applied it: an unconditional write lands
// twice, a conditional one fails on its own item. A fast server (the local
// one, or AWS under light load) makes the window common. Through Read, the
// same closed body ends with a plain EOF and the connection stays intact.
func SafeBodies(client aws.HTTPClient) aws.HTTPClient {
	if client == nil {
		client = awshttp.NewBuildableClient()
	}
	return bodiesWithoutWriteTo{next: client}
}

type bodiesWithoutWriteTo struct{ next aws.HTTPClient }

func (c bodiesWithoutWriteTo) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		r = r.Clone(r.Context())
		r.Body = readCloser{r.Body}
	}
	return c.next.Do(r)
}

// readCloser exposes only Read and Close of a body.
type readCloser struct{ io.ReadCloser }
