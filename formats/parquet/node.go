package parquet

import (
	"reflect"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/encoding"
)

// orderedGroup is a parquet group whose fields keep the order they were
// given in. parquet.Group is a map and sorts its fields by name, which
// would scatter a message's fields; readers show columns in schema order,
// and proto declaration order is the order people know.
type orderedGroup struct {
	fields []parquet.Field
}

var _ parquet.Node = (*orderedGroup)(nil)

func (g *orderedGroup) ID() int { return 0 }

func (g *orderedGroup) String() string {
	names := make([]string, len(g.fields))
	for i, f := range g.fields {
		names[i] = f.Name()
	}
	return "group{" + strings.Join(names, ",") + "}"
}

func (g *orderedGroup) Type() parquet.Type          { return parquet.Group{}.Type() }
func (g *orderedGroup) Optional() bool              { return false }
func (g *orderedGroup) Repeated() bool              { return false }
func (g *orderedGroup) Required() bool              { return true }
func (g *orderedGroup) Leaf() bool                  { return false }
func (g *orderedGroup) Fields() []parquet.Field     { return g.fields }
func (g *orderedGroup) Encoding() encoding.Encoding { return nil }
func (g *orderedGroup) Compression() compress.Codec { return nil }
func (g *orderedGroup) GoType() reflect.Type        { return reflect.TypeFor[map[string]any]() }
func (g *orderedGroup) add(name string, node parquet.Node) {
	g.fields = append(g.fields, &namedField{node, name})
}

// namedField names a node inside its parent group. Rows are built by this
// package, never reflected from Go values, so Value is not used.
type namedField struct {
	parquet.Node
	name string
}

func (f *namedField) Name() string { return f.name }

func (f *namedField) Value(reflect.Value) reflect.Value { return reflect.Value{} }
