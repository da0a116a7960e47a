package operations

import (
	"time"

	"google.golang.org/protobuf/proto"

	"pubexport/export/layout"
	"pubexport/operations/operationspb"
	"pubexport/operations/store"
)

// runRequest is the request of rec with the placeholders of its destination
// ({org}, {resource}, {date}, {time}, {operation}) filled in for this
// operation. The values come from the record, never from the clock at run
// time, so that every attempt and every resume of an operation writes to the
// same folder. The record keeps the template: the latest-export pointer
// lives at its root.
func runRequest(rec *operationspb.OperationRecord) *operationspb.ExportRequest {
	req := rec.GetRequest()
	if !layout.HasPlaceholders(req.GetDestination()) {
		return req
	}
	name, _ := store.RecordName(rec)
	_, id, _ := store.SplitName(name)
	out := proto.Clone(req).(*operationspb.ExportRequest)
	out.Destination = layout.Expand(req.GetDestination(), layoutValues(req, id, rec.GetCreateTime().AsTime()))
	return out
}

func layoutValues(req *operationspb.ExportRequest, id string, created time.Time) layout.Values {
	org := req.GetParent()
	if len(org) > len("organizations/") {
		org = org[len("organizations/"):]
	}
	return layout.Values{Org: org, Resource: req.GetResource(), Operation: id, Time: created}
}
