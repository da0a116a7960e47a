// Package operations runs exports as google.longrunning operations: the
// life of an export from the request that asks for it to the response that
// lists the objects it wrote.
//
// An operation is named organizations/{org}/operations/{id} (a time-ordered
// UUID). Its metadata is Apigee's own OperationMetadata: state NOT_STARTED,
// then IN_PROGRESS, then FINISHED, the target resource, a progress sentence
// and numbers, and warnings. A successful operation's response is an
// ExportResponse; a failed one carries a google.rpc.Status (CANCELLED when
// cancelled, ABORTED when its runner died and it could not be resumed).
//
// Operations live in a store (package store) that every process reaches:
// the bucket the exports write to, or a local folder. A process that runs an
// export holds a lease on its record, renews it every third of its
// duration, and writes progress at most once a second, always with a
// generation check so that two processes never overwrite each other. If the
// process dies the lease lapses; Recover in any process then resumes the
// export from its last checkpoint, or starts it over when it has none (a
// Parquet export, or one that stopped early), and fails it visibly with
// ABORTED only after it was started too many times. A runner whose store
// writes keep failing suspends itself before its lease can lapse, so that
// two processes never run one export. Run resumes an operation explicitly,
// which is how a killed CLI run or a retried Cloud Run job task continues.
package operations
