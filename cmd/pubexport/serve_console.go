package main

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"pubexport/export/apigee/emulator"
	"pubexport/operations/console"
	"pubexport/operations/server"
	"pubexport/operations/store"
)

// consoleFlags are serve's flags for the export console (operations/console).
type consoleFlags struct {
	on                 bool
	defaultDestination string
	organizations      []string
	sample             bool
}

func addConsoleFlags(fl *pflag.FlagSet, f *consoleFlags) {
	fl.BoolVar(&f.on, "console", false, "serve the export console, a web page, at / (same port, same authentication)")
	fl.StringVar(&f.defaultDestination, "console-default-destination", "", "destination `URI` the console's export dialog starts with (default: the first --allow-destination that names a bucket or folder)")
	fl.StringArrayVar(&f.organizations, "console-organization", nil, "an organization `NAME` the console offers to callers granted every organization (repeatable; they may also type one)")
	fl.BoolVar(&f.sample, "sample", false, "serve the bundled sample organization from a built-in Apigee emulator (offline demo): its URL is allowed and the console exports from it")
}

// startSample starts the built-in emulator for --sample and returns its
// URL ("" without --sample) and how to stop it.
func startSample(f consoleFlags) (string, func(), error) {
	if !f.sample {
		return "", func() {}, nil
	}
	emu, err := emulator.Start(emulator.Sample(), emulator.Options{})
	if err != nil {
		return "", nil, fmt.Errorf("--sample: starting the built-in Apigee emulator: %w", err)
	}
	return emu.URL, emu.Close, nil
}

// mountConsole adds the console to the server's options when --console is
// given. Its triggers go through ops (policy included) and its downloads
// read only from destinations the policy allows.
func mountConsole(opts *server.Options, f consoleFlags, ops server.Operations, st store.Store, policy triggerPolicy, sampleURL string) error {
	if !f.on {
		if f.defaultDestination != "" || len(f.organizations) > 0 {
			return usagef("--console-default-destination and --console-organization need --console")
		}
		return nil
	}
	orgs := f.organizations
	for _, o := range orgs {
		if store.CheckParent("organizations/"+o, false) != nil {
			return usagef("--console-organization %q is not an organization name (want e.g. acme)", o)
		}
	}
	if sampleURL != "" {
		orgs = append(orgs, sampleOrg())
	}
	def := f.defaultDestination
	if def == "" {
		for _, a := range policy.destinations {
			if !strings.HasSuffix(a, "://") {
				def = a
				break
			}
		}
	}
	if def != "" {
		if _, err := normalizeDest(def); err != nil {
			return usagef("--console-default-destination: %s", message(err))
		}
		def = normalizeDestination(def)
		if err := policy.checkDestination(def); err != nil {
			return usagef("--console-default-destination %q is outside --allow-destination: %s", f.defaultDestination, message(err))
		}
	}
	allowed := make([]string, len(policy.destinations))
	for i, a := range policy.destinations {
		allowed[i] = a
		if !strings.HasSuffix(a, "://") {
			allowed[i] = normalizeDestination(a)
		}
	}
	c, err := console.New(console.Options{
		Operations:          ops,
		Records:             st,
		Organizations:       orgs,
		DefaultDestination:  def,
		AllowedDestinations: allowed,
		ApigeeURL:           sampleURL,
		CheckDestination:    policy.checkDestination,
		Logger:              opts.Logger,
	})
	if err != nil {
		return err
	}
	opts.Pages, opts.Routes = c.Pages(), c.Routes()
	return nil
}
