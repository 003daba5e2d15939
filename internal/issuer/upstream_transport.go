package issuer

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// maxUpstreamBody bounds what the issuer reads of any upstream answer
// (discovery, keys, token endpoint): go-oidc reads bodies whole
// (security review N10), so a hostile or broken upstream could otherwise
// make the issuer hold, and log, as much as it sends.
const maxUpstreamBody = 1 << 20

// errUpstreamBodyTooLarge ends a read past maxUpstreamBody.
var errUpstreamBodyTooLarge = fmt.Errorf("the upstream's answer is larger than %d bytes", maxUpstreamBody)

// boundedBodies is a transport whose response bodies fail past
// maxUpstreamBody instead of growing without bound.
type boundedBodies struct{ next http.RoundTripper }

func (b boundedBodies) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := b.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{ReadCloser: resp.Body, left: maxUpstreamBody}
	return resp, nil
}

type limitedBody struct {
	io.ReadCloser
	left int64
}

func (l *limitedBody) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// One byte more tells a body of exactly the limit from a longer one.
		var probe [1]byte
		if n, _ := l.ReadCloser.Read(probe[:]); n > 0 {
			return 0, errUpstreamBodyTooLarge
		}
		return 0, io.EOF
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.ReadCloser.Read(p)
	l.left -= int64(n)
	return n, err
}

// maxLoggedUpstreamError bounds an upstream failure's text in the log:
// libraries quote the upstream's body in their errors.
const maxLoggedUpstreamError = 300

// loggedUpstreamError is err as the log shows it: printable, and cut
// where a quoted body would begin to flood the log.
func loggedUpstreamError(err error) string {
	if errors.Is(err, errUpstreamBodyTooLarge) {
		return errUpstreamBodyTooLarge.Error()
	}
	s := strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, err.Error())
	if len(s) > maxLoggedUpstreamError {
		s = strings.ToValidUTF8(s[:maxLoggedUpstreamError], "") + "…"
	}
	return s
}
