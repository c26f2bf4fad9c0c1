package config

import "m3o.dev/services/internal/invalid"

// checkShape refuses a document the service could not read back, or that
// would cost too much to: too large, too deep, or with too many values. It
// runs on every change, before anything is written, so a stored document is
// always one that decodes.
func checkShape(doc map[string]any, size int) error {
	if size > MaxDocumentBytes {
		return invalid.Field("value", "would make the document %d bytes, over the limit of %d", size, MaxDocumentBytes)
	}
	depth, nodes := measure(doc, 1)
	if depth > MaxDepth {
		return invalid.Field("value", "would nest the document %d levels deep, over the limit of %d", depth, MaxDepth)
	}
	if nodes > MaxNodes {
		return invalid.Field("value", "would give the document %d values, over the limit of %d", nodes, MaxNodes)
	}
	return nil
}

// measure returns the depth of v, which sits at level, and how many values
// it holds, itself included. It stops descending past MaxDepth+1, so that a
// hostile value costs no deep recursion.
func measure(v any, level int) (depth, nodes int) {
	if level > MaxDepth+1 {
		return level, 1
	}
	var children []any
	switch t := v.(type) {
	case map[string]any:
		for _, c := range t {
			children = append(children, c)
		}
	case []any:
		children = t
	default:
		return level - 1, 1
	}
	depth, nodes = level, 1
	for _, c := range children {
		d, n := measure(c, level+1)
		depth, nodes = max(depth, d), nodes+n
	}
	return depth, nodes
}
