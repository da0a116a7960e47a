package main

import (
	"slices"
	"strings"

	"pubexport/cmd/pubexport/internal/jobenv"
)

// envPrefix starts every variable pubexport reads.
const envPrefix = "PUBEXPORT_"

// notifyVar is the default of --notify (run, serve) and the job's
// notification topic.
const notifyVar = "PUBEXPORT_NOTIFY"

// knownVars are the PUBEXPORT_* variables some command reads.
func knownVars() []string {
	names := []string{"PUBEXPORT_TOKEN", "PUBEXPORT_SERVER", notifyVar, leaseVar, apigeeTimeoutVar, maxParallelVar}
	for _, v := range jobenv.Vars {
		if strings.HasPrefix(v.Name, envPrefix) {
			names = append(names, v.Name)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// checkEnv refuses PUBEXPORT_* variables that no command reads: a
// misspelled PUBEXPORT_RESOURCE would otherwise be ignored and every
// resource exported, with exit status 0.
func checkEnv(environ []string) error {
	known := knownVars()
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, envPrefix) || slices.Contains(known, name) {
			continue
		}
		return usagef("unknown environment variable %s: did you mean %s? (pubexport reads %s)", name, closest(name, known), strings.Join(known, ", "))
	}
	return nil
}

// closest is the name in names nearest to s by edit distance.
func closest(s string, names []string) string {
	best, bestD := "", -1
	for _, n := range names {
		if d := editDistance(s, n); bestD < 0 || d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
