package store_test

import (
	"context"
	"testing"
)

// BenchmarkUpdate measures one generation-checked write, what a runner pays
// for every progress save, checkpoint and lease renewal.
func BenchmarkUpdate(b *testing.B) {
	for name, open := range backends {
		b.Run(name, func(b *testing.B) {
			s := open(b)()
			ctx := context.Background()
			rec := record(b, opName, 0)
			gen, err := s.Create(ctx, rec)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				rec.Attempts++
				if gen, err = s.Update(ctx, rec, gen); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
