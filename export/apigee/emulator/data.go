package emulator

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"pubexport/export/apigee/apigeepb"
	"pubexport/testdata"
)

// Data is the content of an emulated Apigee installation: one or more
// organizations. A server takes it as its initial state; write requests change
// the server's copy, never d itself.
type Data struct {
	Orgs []*Org
}

// Org is one organization's publishing data in server order (the order list
// calls return, which is creation order, not alphabetical).
//
// Developer apps (organizations/{org}/developers/{email}/apps) are not stored
// separately: they are the Apps whose DeveloperEmail names the developer,
// shown in the DeveloperApp shape, as one app has a single identity in Apigee.
type Org struct {
	Name        string
	Developers  []*apigeepb.Developer
	Apps        []*apigeepb.App
	APIProducts []*apigeepb.ApiProduct
}

// Org returns the organization called name, or nil.
func (d *Data) Org(name string) *Org {
	for _, o := range d.Orgs {
		if o.Name == name {
			return o
		}
	}
	return nil
}

// seedFile is the JSON seed format: record arrays are kept raw so that each
// record is decoded with protojson (int64 as strings, enums by name) exactly
// as the API encodes it.
type seedFile struct {
	Organizations []seedOrg `json:"organizations"`
}

type seedOrg struct {
	Name        string            `json:"name"`
	Developers  []json.RawMessage `json:"developers"`
	Apps        []json.RawMessage `json:"apps"`
	APIProducts []json.RawMessage `json:"apiProducts"`
}

// Load reads the seed file format:
//
//	{"organizations":[{"name":"acme","developers":[...],"apps":[...],"apiProducts":[...]}]}
//
// where each record is the protojson form the API serves. Unknown record
// fields are refused so that a typo in a hand-written seed is not silently
// dropped. Keys (developer email, appId, product name) must be unique.
func Load(r io.Reader) (*Data, error) {
	dec := json.NewDecoder(bufio.NewReader(r))
	dec.DisallowUnknownFields()
	var f seedFile
	if err := dec.Decode(&f); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "emulator seed: not the seed JSON format ({\"organizations\":[...]}): %v", err)
	}
	d := &Data{}
	for i, so := range f.Organizations {
		if so.Name == "" || strings.Contains(so.Name, "/") {
			return nil, status.Errorf(codes.InvalidArgument, "emulator seed: organizations[%d] needs a name without '/', got %q", i, so.Name)
		}
		if d.Org(so.Name) != nil {
			return nil, status.Errorf(codes.InvalidArgument, "emulator seed: organization %q appears twice", so.Name)
		}
		o := &Org{Name: so.Name}
		var err error
		if o.Developers, err = decodeAll[*apigeepb.Developer](so.Name, "developers", so.Developers); err != nil {
			return nil, err
		}
		if o.Apps, err = decodeAll[*apigeepb.App](so.Name, "apps", so.Apps); err != nil {
			return nil, err
		}
		if o.APIProducts, err = decodeAll[*apigeepb.ApiProduct](so.Name, "apiProducts", so.APIProducts); err != nil {
			return nil, err
		}
		if err := o.validate(); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "emulator seed: organization %q: %v", so.Name, err)
		}
		d.Orgs = append(d.Orgs, o)
	}
	return d, nil
}

func decodeAll[M interface {
	proto.Message
	*T
}, T any](org, field string, raw []json.RawMessage) ([]M, error) {
	out := make([]M, 0, len(raw))
	for i, b := range raw {
		m := M(new(T))
		if err := protojson.Unmarshal(b, m); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "emulator seed: organization %q %s[%d]: %v", org, field, i, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// validate checks what the server relies on: every record has its key, and
// keys are unique within their collection.
func (o *Org) validate() error {
	if err := uniqueKeys("developers", "email", o.Developers, (*apigeepb.Developer).GetEmail); err != nil {
		return err
	}
	if err := uniqueKeys("apps", "appId", o.Apps, (*apigeepb.App).GetAppId); err != nil {
		return err
	}
	return uniqueKeys("apiProducts", "name", o.APIProducts, (*apigeepb.ApiProduct).GetName)
}

// uniqueKeys checks that every record of the list called field has its
// key, named keyName, and that no two have the same.
func uniqueKeys[M any](field, keyName string, list []M, key func(M) string) error {
	seen := make(map[string]bool, len(list))
	for i, m := range list {
		k := key(m)
		if k == "" {
			return fmt.Errorf("%s[%d] has no %s", field, i, keyName)
		}
		if seen[k] {
			return fmt.Errorf("%s[%d]: %s %q appears twice", field, i, keyName, k)
		}
		seen[k] = true
	}
	return nil
}

// WriteTo writes d in the seed file format Load reads, one record per line so
// that a generated seed can be diffed and edited by hand.
func (d *Data) WriteTo(w io.Writer) (int64, error) {
	bw := bufio.NewWriter(w)
	cw := &countingWriter{w: bw}
	opts := protojson.MarshalOptions{}
	var buf []byte
	writeRecords := func(name string, n int, rec func(int) proto.Message) error {
		fmt.Fprintf(cw, "   %q: [", name)
		for i := range n {
			var err error
			if buf, err = opts.MarshalAppend(buf[:0], rec(i)); err != nil {
				return fmt.Errorf("emulator: encode %s[%d]: %w", name, i, err)
			}
			sep := ",\n    "
			if i == 0 {
				sep = "\n    "
			}
			io.WriteString(cw, sep)
			cw.Write(buf)
		}
		if n > 0 {
			io.WriteString(cw, "\n   ")
		}
		io.WriteString(cw, "]")
		return nil
	}
	io.WriteString(cw, "{\"organizations\": [")
	for i, o := range d.Orgs {
		if i > 0 {
			io.WriteString(cw, ",")
		}
		name, _ := json.Marshal(o.Name)
		fmt.Fprintf(cw, "\n  {\"name\": %s,\n", name)
		if err := writeRecords("developers", len(o.Developers), func(i int) proto.Message { return o.Developers[i] }); err != nil {
			return cw.n, err
		}
		io.WriteString(cw, ",\n")
		if err := writeRecords("apps", len(o.Apps), func(i int) proto.Message { return o.Apps[i] }); err != nil {
			return cw.n, err
		}
		io.WriteString(cw, ",\n")
		if err := writeRecords("apiProducts", len(o.APIProducts), func(i int) proto.Message { return o.APIProducts[i] }); err != nil {
			return cw.n, err
		}
		io.WriteString(cw, "\n  }")
	}
	io.WriteString(cw, "\n]}\n")
	if cw.err != nil {
		return cw.n, fmt.Errorf("emulator: write seed: %w", cw.err)
	}
	if err := bw.Flush(); err != nil {
		return cw.n, fmt.Errorf("emulator: write seed: %w", err)
	}
	return cw.n, nil
}

// countingWriter counts bytes and keeps the first error so WriteTo can write
// without checking every call.
type countingWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.err = err
	return n, err
}

// Sample returns a fresh copy of the bundled sample organization "acme"
// (testdata/sample-org.json at the repository root), so that the emulator
// and `make run` work offline with no flags. Each call decodes it again, so
// callers may change what they get.
func Sample() *Data {
	d, err := Load(bytes.NewReader(testdata.SampleOrg))
	if err != nil {
		// The file is embedded at build time and checked by the tests;
		// failing here means the binary was built from a broken tree.
		panic(fmt.Sprintf("emulator: the embedded sample organization is invalid: %v", err))
	}
	return d
}
