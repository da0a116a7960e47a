package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"pubexport/export/apigee/emulator"
	"pubexport/export/sink"
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
func startSample(cc consoleConfig) (string, func(), error) {
	if !cc.sample {
		return "", func() {}, nil
	}
	emu, err := emulator.Start(emulator.Sample(), emulator.Options{})
	if err != nil {
		return "", nil, fmt.Errorf("--sample: starting the built-in Apigee emulator: %w", err)
	}
	return emu.URL, emu.Close, nil
}

// consoleConfig is the console's part of a checked serve command line.
type consoleConfig struct {
	on                 bool
	sample             bool
	organizations      []string
	defaultDestination string
	allowed            []string // the policy's destinations, folders as file:// URLs
	sinkOptions        []sink.Option
}

// checkConsole checks the console flags against the destination policy,
// before serve does any work.
func checkConsole(f consoleFlags, policy triggerPolicy) (consoleConfig, error) {
	if !f.on {
		if f.defaultDestination != "" || len(f.organizations) > 0 {
			return consoleConfig{}, usagef("--console-default-destination and --console-organization need --console")
		}
		return consoleConfig{sample: f.sample}, nil
	}
	c := consoleConfig{on: true, sample: f.sample, organizations: f.organizations}
	for _, o := range c.organizations {
		if store.CheckParent("organizations/"+o, false) != nil {
			return consoleConfig{}, usagef("--console-organization %q is not an organization name (want e.g. acme)", o)
		}
	}
	if f.sample {
		c.organizations = append(c.organizations, sampleOrg())
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
			return consoleConfig{}, usagef("--console-default-destination: %s", message(err))
		}
		def = normalizeDestination(def)
		if err := policy.checkDestination(def); err != nil {
			return consoleConfig{}, usagef("--console-default-destination %q is outside --allow-destination: %s", f.defaultDestination, message(err))
		}
	}
	c.defaultDestination = def
	for _, a := range policy.destinations {
		if !strings.HasSuffix(a, "://") {
			a = normalizeDestination(a)
		}
		c.allowed = append(c.allowed, a)
	}
	return c, nil
}

// mountConsole adds the console to the server's options when --console is
// given. Its triggers go through ops (policy included) and its downloads
// read only from destinations the policy allows.
func mountConsole(opts *server.Options, cc consoleConfig, ops server.Operations, st store.Store, policy triggerPolicy, sampleURL string) error {
	if !cc.on {
		return nil
	}
	c, err := console.New(console.Options{
		Operations:          ops,
		Records:             st,
		Organizations:       cc.organizations,
		DefaultDestination:  cc.defaultDestination,
		AllowedDestinations: cc.allowed,
		ApigeeURL:           sampleURL,
		CheckDestination:    policy.checkDestination,
		Open: func(ctx context.Context, dest string) (sink.Bucket, error) {
			return sink.Open(ctx, dest, cc.sinkOptions...)
		},
		Logger: opts.Logger,
	})
	if err != nil {
		return err
	}
	opts.Pages, opts.Routes = c.Pages(), c.Routes()
	return nil
}
