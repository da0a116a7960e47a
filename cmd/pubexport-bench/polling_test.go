package main

import "testing"

// TestPairedRatio: the ratio is the median of the rounds' own ratios, each
// figure over the anchor's of the same round (here the ratio of the two
// medians, 21/40, happens to agree); rounds that do not pair up give none.
func TestPairedRatio(t *testing.T) {
	anchor := []float64{40, 20, 40, 40, 40}
	rates := []float64{22, 10, 20, 21, 40}
	got, ok := pairedRatio(rates, anchor)
	if !ok || got != 0.525 {
		t.Errorf("pairedRatio = %v, %v; want 0.525 (the median of 0.55, 0.5, 0.5, 0.525, 1), true", got, ok)
	}
	if _, ok := pairedRatio(rates[:4], anchor); ok {
		t.Error("pairedRatio paired rounds of different runs")
	}
	if _, ok := pairedRatio(nil, nil); ok {
		t.Error("pairedRatio of no rounds")
	}
}
