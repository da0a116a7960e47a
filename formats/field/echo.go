// Echoed values are bounded. An error
// that quotes what it was given ("format \"x\" is not supported") must not
// grow with the input: a 500 KB filter would come back as a 500 KB message,
// a 900 KB JSON key as an answer of megabytes (gRPC trailers have a limit,
// and so do terminals and logs). Every message that echoes a value a caller
// or a user supplied passes it through Echo.

package field

import (
	"fmt"
	"unicode/utf8"
)

// MaxEcho is how much of one echoed value a message keeps: enough to
// recognise any real name, URL, filter or flag value.
const MaxEcho = 256

// MaxMessage is how long a whole message that leaves the process (an API
// answer, a CLI error) may be; see Message.
const MaxMessage = 2048

// Echo is s as a message may echo it: whole when it is at most MaxEcho
// bytes, else its first MaxEcho bytes (cut at a UTF-8 boundary) and how
// long it was.
func Echo(s string) string { return cut(s, MaxEcho) }

// EchoMessage bounds a whole message to MaxMessage bytes the same way. It is the
// last guard where errors leave the process, for a message that quotes a
// value that did not pass through Echo (or many that did).
func EchoMessage(s string) string { return cut(s, MaxMessage) }

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return fmt.Sprintf("%s...(%d bytes)", s[:i], len(s))
}
