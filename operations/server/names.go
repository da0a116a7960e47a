package server

import (
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"pubexport/formats/field"
)

// maxSegment bounds one name segment; real organization names and operation
// ids (UUIDs) are far shorter.
const maxSegment = 200

// validSegment reports whether s can be one segment of a resource name:
// unreserved URL characters only, so a name never needs escaping in a path
// and cannot smuggle a "/" or "..".
func validSegment(s string) bool {
	if s == "" || len(s) > maxSegment || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-' || c == '_' || c == '.' || c == '~':
		default:
			return false
		}
	}
	return true
}

// operationName splits "organizations/{org}/operations/{id}".
func operationName(name string) (org, id string, err error) {
	p := strings.Split(name, "/")
	if len(p) != 4 || p[0] != "organizations" || p[2] != "operations" || !validSegment(p[1]) || !validSegment(p[3]) {
		return "", "", status.Errorf(codes.InvalidArgument,
			"name %q is not an operation name: want organizations/{org}/operations/{id}", truncate(name))
	}
	return p[1], p[3], nil
}

// listParent returns the organization of a List parent. Both
// "organizations/{org}" (the contract, and what Apigee's list takes) and
// "organizations/{org}/operations" (what the official REST client must be
// given, because it sends GET /v1/{name}) are accepted, on both transports.
func listParent(parent string) (org string, err error) {
	p := strings.Split(parent, "/")
	if (len(p) == 2 || (len(p) == 3 && p[2] == "operations")) && p[0] == "organizations" && validSegment(p[1]) {
		return p[1], nil
	}
	return "", status.Errorf(codes.InvalidArgument,
		"name %q is not an operations parent: want organizations/{org}", truncate(parent))
}

// exportParent returns the organization of an ExportRequest parent.
func exportParent(parent string) (org string, err error) {
	p := strings.Split(parent, "/")
	if len(p) == 2 && p[0] == "organizations" && validSegment(p[1]) {
		return p[1], nil
	}
	return "", status.Errorf(codes.InvalidArgument,
		"parent %q is not an organization: want organizations/{org}", truncate(parent))
}

// orgOf returns the organization an operation name belongs to, or "" if the
// name is not an operation name.
func orgOf(name string) string {
	org, _, err := operationName(name)
	if err != nil {
		return ""
	}
	return org
}

// truncate keeps error messages short when a client sends a huge name.
func truncate(s string) string { return field.Echo(s) }
