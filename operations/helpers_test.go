package operations_test

import (
	"strconv"

	"pubexport/operations"
	"pubexport/operations/operationspb"
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

type operationsConfig = operations.Config

type operationsReq = operationspb.ExportRequest
