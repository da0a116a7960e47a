// Package jobenv reads the configuration of `pubexport job`, the Cloud Run job
// entrypoint, from environment variables: Cloud Run jobs are configured with
// --set-env-vars (and by `serve --dispatch cloudrun` through per-execution
// overrides), and Cloud Run itself tells each task who it is with
// CLOUD_RUN_TASK_INDEX, CLOUD_RUN_TASK_COUNT, CLOUD_RUN_TASK_ATTEMPT and
// CLOUD_RUN_EXECUTION.
//
// Every error names the variable to fix, since a job has no flags and no
// --help to fall back on.
package jobenv

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"pubexport/cmd/pubexport/internal/bytesize"
	"pubexport/cmd/pubexport/internal/cmdlog"
	"pubexport/export/apigee"
	"pubexport/formats"
)

// The variables Parse reads. Vars lists them with their documentation.
const (
	Org            = "PUBEXPORT_ORG"
	Resources      = "PUBEXPORT_RESOURCES"
	Format         = "PUBEXPORT_FORMAT"
	Compression    = "PUBEXPORT_COMPRESSION"
	Destination    = "PUBEXPORT_DESTINATION"
	ApigeeURL      = "PUBEXPORT_APIGEE_URL"
	IncludeSecrets = "PUBEXPORT_INCLUDE_SECRETS"
	CSVDelimiter   = "PUBEXPORT_CSV_DELIMITER"
	CSVNoHeader    = "PUBEXPORT_CSV_NO_HEADER"
	CSVGuard       = "PUBEXPORT_CSV_GUARD_FORMULAS"
	MaxObjectSize  = "PUBEXPORT_MAX_OBJECT_SIZE"
	Operation      = "PUBEXPORT_OPERATION"
	Store          = "PUBEXPORT_STORE"
	LogLevel       = "PUBEXPORT_LOG_LEVEL"
	LogProgress    = "PUBEXPORT_LOG_PROGRESS_EVERY"
	Notify         = "PUBEXPORT_NOTIFY"
	MaxParallel    = "PUBEXPORT_MAX_PARALLEL_REQUESTS"

	TaskIndex   = "CLOUD_RUN_TASK_INDEX"
	TaskCount   = "CLOUD_RUN_TASK_COUNT"
	TaskAttempt = "CLOUD_RUN_TASK_ATTEMPT"
	Execution   = "CLOUD_RUN_EXECUTION"
)

// Var documents one variable for --help and the README.
type Var struct {
	Name, Default, Help string
}

// Vars is every variable `pubexport job` reads, in the order of its help.
var Vars = []Var{
	{Org, "", "Apigee organization to export (required unless PUBEXPORT_OPERATION is set)"},
	{Resources, "all", "comma-separated list of " + strings.Join(append(resourceList(), "all"), ", ")},
	{Format, "json", strings.Join(formatList(), ", ")},
	{Compression, "none (zstd for parquet)", "none or gzip; parquet also zstd and snappy"},
	{Destination, "", "gs://BUCKET/PREFIX or file:///DIR (required unless PUBEXPORT_OPERATION is set)"},
	{ApigeeURL, "https://apigee.googleapis.com", "Apigee management API base URL (a proxy or an emulator)"},
	{IncludeSecrets, "false", "true keeps credentials[].consumerSecret in the output"},
	{CSVDelimiter, ",", "CSV delimiter: , | or \\t (csv only)"},
	{CSVNoHeader, "false", "true leaves out the CSV header row"},
	{CSVGuard, "false", "true prefixes cells starting with = + - @ with ' (spreadsheet formula guard)"},
	{MaxObjectSize, "0 (one object)", "split output into objects of about this size: 64MiB, 1GB, bytes"},
	{Operation, "", "run or resume this existing operation (organizations/ORG/operations/ID) instead of starting exports; set by `serve --dispatch cloudrun`"},
	{Store, "gs://BUCKET/.pubexport/operations (ROOT/.pubexport/operations for a folder)", "operation store: gs://BUCKET/PREFIX or file:///DIR (required with PUBEXPORT_OPERATION)"},
	{Notify, "", "pubsub://projects/PROJECT/topics/TOPIC: publish one message per ended export (done, failed or cancelled)"},
	{MaxParallel, strconv.Itoa(apigee.DefaultParallelRequests), fmt.Sprintf("Apigee requests in flight at once for one export, 1 to %d; the apps passes are read at the same time up to it (the output is the same)", apigee.MaxParallelRequests)},
	{LogLevel, "info", cmdlog.LevelNames()},
	{LogProgress, "30s", "how often a running export logs its counters (a Go duration; 0 turns it off)"},
	{TaskIndex, "0", "set by Cloud Run: this task's index; task i exports resources i, i+n, ... of the list"},
	{TaskCount, "1", "set by Cloud Run: number of tasks in the execution"},
	{TaskAttempt, "0", "set by Cloud Run: retry number; a retry resumes its task's operations, or starts them again after a transient failure"},
	{Execution, "", "set by Cloud Run: the execution name; with it, operation request ids are derived from it so a retried task finds its operations"},
}

// Config is the parsed environment.
type Config struct {
	Org            string
	Resources      []apigee.Resource
	Format         formats.Format
	Compression    formats.Compression // "" means the format's default
	Destination    string
	ApigeeURL      string
	IncludeSecrets bool
	CSVDelimiter   string
	CSVNoHeader    bool
	CSVGuard       bool
	MaxObjectSize  int64
	Operation      string
	Store          string
	LogLevel       string
	LogProgress    time.Duration
	Notify         string

	TaskIndex   int
	TaskCount   int
	TaskAttempt int
	Execution   string
}

// Parse reads the variables through getenv (os.Getenv in production). It
// checks them in the order of Vars and returns the first error, naming the
// variable to fix.
func Parse(getenv func(string) string) (*Config, error) {
	p := parser{getenv: getenv}
	c := &Config{
		Org:            p.str(Org),
		Destination:    p.str(Destination),
		ApigeeURL:      p.str(ApigeeURL),
		IncludeSecrets: p.boolean(IncludeSecrets),
		CSVDelimiter:   p.str(CSVDelimiter),
		CSVNoHeader:    p.boolean(CSVNoHeader),
		CSVGuard:       p.boolean(CSVGuard),
		Operation:      p.str(Operation),
		Store:          p.str(Store),
		LogLevel:       strings.ToLower(p.str(LogLevel)),
		Notify:         p.str(Notify),
		TaskIndex:      p.integer(TaskIndex, 0),
		TaskCount:      p.integer(TaskCount, 1),
		TaskAttempt:    p.integer(TaskAttempt, 0),
		Execution:      p.str(Execution),
	}
	if p.err != nil {
		return nil, p.err
	}
	if err := c.parseLogging(&p); err != nil {
		return nil, err
	}
	if err := c.checkTask(); err != nil {
		return nil, err
	}
	if c.Operation != "" {
		if err := c.checkOperation(); err != nil {
			return nil, err
		}
		return c, nil
	}
	if err := c.parseExport(&p); err != nil {
		return nil, err
	}
	return c, nil
}

// parseLogging checks the log level and reads how often a running export
// logs its counters (30 s unless set; 0 for never).
func (c *Config) parseLogging(p *parser) error {
	if c.LogLevel != "" {
		if _, err := cmdlog.ParseLevel(c.LogLevel); err != nil {
			return fmt.Errorf("%s: %v", LogLevel, err)
		}
	}
	c.LogProgress = 30 * time.Second
	if v := p.str(LogProgress); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return fmt.Errorf("%s=%q: want a duration such as 30s or 1m, or 0 for none", LogProgress, v)
		}
		c.LogProgress = d
	}
	return nil
}

// checkTask checks what Cloud Run says of the task. Cloud Run sets these
// itself, so an error here means someone set them by hand, wrongly.
func (c *Config) checkTask() error {
	if c.TaskCount < 1 {
		return fmt.Errorf("%s=%d: want at least 1", TaskCount, c.TaskCount)
	}
	if c.TaskIndex < 0 || c.TaskIndex >= c.TaskCount {
		return fmt.Errorf("%s=%d is outside 0..%d (%s=%d)", TaskIndex, c.TaskIndex, c.TaskCount-1, TaskCount, c.TaskCount)
	}
	if c.TaskAttempt < 0 {
		return fmt.Errorf("%s=%d: want 0 or more", TaskAttempt, c.TaskAttempt)
	}
	return nil
}

// checkOperation checks a job that runs a recorded operation: its recorded
// request says everything else, and only the store must be known to find
// it.
func (c *Config) checkOperation() error {
	parts := strings.Split(c.Operation, "/")
	if len(parts) != 4 || parts[0] != "organizations" || parts[1] == "" || parts[2] != "operations" || parts[3] == "" {
		return fmt.Errorf("%s=%q: want an operation name organizations/ORG/operations/ID", Operation, c.Operation)
	}
	if c.Store == "" {
		return fmt.Errorf("%s is required with %s: it is where the operation is recorded (gs://BUCKET/PREFIX or file:///DIR)", Store, Operation)
	}
	return nil
}

// parseExport reads and checks what a job that starts exports needs: the
// organization, the destination, and what to export in which format.
func (c *Config) parseExport(p *parser) error {
	if c.Org == "" {
		return fmt.Errorf("%s is required: set it to your Apigee organization name (or set %s to run a recorded operation)", Org, Operation)
	}
	if c.Destination == "" {
		return fmt.Errorf("%s is required: set it to gs://BUCKET/PREFIX or file:///DIR", Destination)
	}
	var err error
	if c.Resources, err = parseResources(p.str(Resources)); err != nil {
		return err
	}
	if err := c.parseFormat(p); err != nil {
		return err
	}
	if err := c.checkCSV(); err != nil {
		return err
	}
	if s := p.str(MaxObjectSize); s != "" {
		if c.MaxObjectSize, err = bytesize.Parse(s); err != nil {
			return fmt.Errorf("%s: %w", MaxObjectSize, err)
		}
	}
	return nil
}

// parseFormat reads the format (json by default) and the compression,
// which must be one the format supports.
func (c *Config) parseFormat(p *parser) error {
	f := p.str(Format)
	if f == "" {
		f = string(formats.JSON)
	}
	var err error
	if c.Format, err = formats.ParseFormat(f); err != nil {
		return fmt.Errorf("%s=%q: want one of %s", Format, f, strings.Join(formatList(), ", "))
	}
	comp := p.str(Compression)
	if comp == "" {
		return nil
	}
	if c.Compression, err = formats.ParseCompression(c.Format, comp); err != nil {
		if c.Format == formats.Parquet {
			return fmt.Errorf("%s=%q: want none, gzip, zstd or snappy for parquet", Compression, comp)
		}
		return fmt.Errorf("%s=%q: want none or gzip for %s (zstd and snappy are for parquet)", Compression, comp, c.Format)
	}
	return nil
}

// checkCSV checks the CSV options, which apply only to csv, and spells the
// tab delimiter (\t or tab in a variable) as the character.
func (c *Config) checkCSV() error {
	if c.CSVDelimiter != "" || c.CSVNoHeader || c.CSVGuard {
		if c.Format != formats.CSV {
			return fmt.Errorf("%s, %s and %s apply only to %s=csv, not %q", CSVDelimiter, CSVNoHeader, CSVGuard, Format, c.Format)
		}
	}
	d := c.CSVDelimiter
	if d == "" {
		return nil
	}
	if d == `\t` || d == "tab" {
		c.CSVDelimiter = "\t"
	}
	if c.CSVDelimiter != "," && c.CSVDelimiter != "|" && c.CSVDelimiter != "\t" {
		return fmt.Errorf("%s=%q: want , | or \\t", CSVDelimiter, d)
	}
	return nil
}

func parseResources(s string) ([]apigee.Resource, error) {
	if s == "" || strings.EqualFold(strings.TrimSpace(s), "all") {
		return apigee.Resources(), nil
	}
	var out []apigee.Resource
	for _, part := range strings.Split(s, ",") {
		part = strings.ToLower(strings.TrimSpace(part))
		r, err := apigee.ParseResource(part)
		if err != nil {
			return nil, fmt.Errorf("%s=%q: %q is not one of %s", Resources, s, part, strings.Join(append(resourceList(), "all"), ", "))
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out, nil
}

// Mine returns the resources this task exports: task i of n takes entries
// i, i+n, i+2n, ... of the list, so n tasks for "all" run one resource each
// and a single task runs them all. Empty when there are more tasks than
// resources (the extra tasks have nothing to do).
func (c *Config) Mine() []apigee.Resource {
	var out []apigee.Resource
	for i := c.TaskIndex; i < len(c.Resources); i += c.TaskCount {
		out = append(out, c.Resources[i])
	}
	return out
}

// requestIDSpace is the UUID namespace of request ids derived from Cloud Run
// executions (a fixed random UUID: changing it would orphan retries).
var requestIDSpace = uuid.MustParse("8f1f4e0c-5b7a-4d43-9c39-7a4c1f2b9d61")

// RequestID is the request_id of r's export in this execution: the same for
// every attempt of the task, so that a retried task gets back the operation
// the failed attempt started (and resumes it) instead of starting over. It is
// empty outside Cloud Run, where every run is a new export.
//
// restart numbers the exports of r in this execution: 0 for the first, n
// for the one a retry starts after export n-1 ended in a transient failure
// (UNAVAILABLE, ABORTED, ...), which resuming cannot fix. Restart 0 keeps the
// derivation of earlier releases, so retries of their executions still find
// their operations.
func (c *Config) RequestID(r apigee.Resource, restart int) string {
	if c.Execution == "" {
		return ""
	}
	parts := []string{c.Execution, c.Org, string(r), c.Destination}
	if restart > 0 {
		parts = append(parts, "restart", strconv.Itoa(restart))
	}
	return uuid.NewSHA1(requestIDSpace, []byte(strings.Join(parts, "\x00"))).String()
}

// parser collects the first error so that Parse reads like a table.
type parser struct {
	getenv func(string) string
	err    error
}

func (p *parser) str(name string) string { return strings.TrimSpace(p.getenv(name)) }

func (p *parser) boolean(name string) bool {
	s := p.str(name)
	if s == "" {
		return false
	}
	b, err := strconv.ParseBool(s)
	if err != nil && p.err == nil {
		p.err = fmt.Errorf("%s=%q: want true or false", name, s)
	}
	return b
}

func (p *parser) integer(name string, def int) int {
	s := p.str(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil && p.err == nil {
		p.err = fmt.Errorf("%s=%q: want a whole number", name, s)
	}
	return n
}

// resourceList and formatList are the accepted names, from the packages
// that define them.
func resourceList() []string {
	var names []string
	for _, r := range apigee.Resources() {
		names = append(names, string(r))
	}
	return names
}

func formatList() []string {
	var names []string
	for _, f := range formats.Formats() {
		names = append(names, string(f))
	}
	return names
}
