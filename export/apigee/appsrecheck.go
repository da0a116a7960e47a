package apigee

import (
	"context"
	"fmt"
)

// Reading again the apps passes that changed while the listing ran.
//
// An app revoked, approved, or whose keys change while the export runs
// moves from one apps pass to another. Read one after another, the passes
// lose nothing to a move to a later pass, which is read after the move;
// read at once (see readahead.go), the later pass may have been read
// before it, and the app is in neither. The API says so only through
// totalSize: the pass it left counts one less on its next page, the pass
// it joined one more than when it was read. So when any pass's totalSize
// changed between two of its pages (or from the probe before them) while
// the passes were listed, the listing, after its last pass, asks each pass
// for one app once more (at once, under the cap on requests in flight) to
// learn its totalSize now, and reads again, from its start and without
// the spill, each pass whose total differs from the last it saw;
// deduplication drops the apps delivered before, uncounted, so only the
// apps that moved are added. That is one round: a total that changes again
// while the passes are read again gives a warning, not another round. A
// listing that saw no totalSize change makes no request more than before,
// and its pages are unchanged. Where every pass's totalSize counts every
// app of the organization, a move changes none of them; appstotal.go says
// how that is checked instead.

// recheck runs after the listing's last pass (l.cur is Done): if a pass's
// totalSize changed while the passes were listed, and the listing has not
// done so yet, it learns each pass's totalSize again and sets the listing
// to read again those whose total differs from the last it saw, with a
// warning. At the end of that round a total that changed again gets a
// warning of its own.
func (l *Lister) recheck(ctx context.Context, p *Page) error {
	if l.rechecked {
		if l.changed {
			l.changed = false
			p.Warnings = MergeWarnings(p.Warnings, []Warning{{
				Text:  "apps: the totalSize of a status and keyStatus listing changed again while the listings whose total had changed were read again (apps kept changing while the export ran): apps that moved between listings then may be missing; export again for a consistent copy",
				Count: 1,
			}})
		}
		return nil
	}
	missed := !l.changed && l.missedAll()
	if !l.changed && !missed {
		return nil
	}
	l.rechecked, l.changed = true, false
	for _, r := range l.readers {
		if r != nil {
			r.readOn() // the passes read again are asked of the API
		}
	}
	if missed {
		// The totals cannot say which passes changed: all of them.
		l.again = 1<<len(appsPasses) - 1
		l.cur = passStart(0)
		p.Warnings = MergeWarnings(p.Warnings, []Warning{{Text: missedAllWarning, Count: 1}})
		return nil
	}
	seen := l.totals
	if err := l.probe(ctx, -1)(); err != nil {
		return err
	}
	n := 0
	for i, t := range l.totals {
		if seen[i] >= 0 && t >= 0 && t != seen[i] {
			l.again |= 1 << i
			n++
		}
	}
	first, ok := l.passAfter(-1)
	if !ok {
		return nil
	}
	l.cur = passStart(first)
	p.Warnings = MergeWarnings(p.Warnings, []Warning{{
		Text: fmt.Sprintf("apps: the totalSize of a status and keyStatus listing changed while the apps were listed (apps revoked, approved, created or deleted during the export, which moves them between listings): the listings whose total then differed from the last they reported were read again from their start (%d of %d; apps read twice are exported once)",
			n, len(appsPasses)),
		Count: 1,
	}})
	return nil
}

// passAfter is the apps pass the listing reads after pass (-1: the first):
// the next one, or, in the round that reads again the passes that
// changed, the next of those.
func (l *Lister) passAfter(pass int) (int, bool) {
	for i := pass + 1; i < len(appsPasses); i++ {
		if !l.rechecked || l.again&(1<<i) != 0 {
			return i, true
		}
	}
	return 0, false
}
