package rules

import (
	authv1 "m3o.dev/proto/m3o/auth/v1"
)

// FromProto converts a rule from the wire. An unspecified access becomes
// Deny, so a malformed rule can only ever refuse.
func FromProto(p *authv1.Rule) Rule {
	return Rule{
		ID:          p.GetId(),
		Namespace:   p.GetNamespace(),
		Scope:       p.GetScope(),
		Resource:    ResourceFromProto(p.GetResource()),
		Access:      AccessFromProto(p.GetAccess()),
		Priority:    p.GetPriority(),
		Builtin:     p.GetBuiltin(),
		Description: p.GetDescription(),
	}
}

// ToProto converts a rule to the wire.
func ToProto(r Rule) *authv1.Rule {
	return &authv1.Rule{
		Id:          r.ID,
		Namespace:   r.Namespace,
		Scope:       r.Scope,
		Resource:    ResourceToProto(r.Resource),
		Access:      AccessToProto(r.Access),
		Priority:    r.Priority,
		Builtin:     r.Builtin,
		Description: r.Description,
	}
}

// ResourceFromProto converts a resource from the wire.
func ResourceFromProto(p *authv1.Resource) Resource {
	return Resource{Type: p.GetType(), Name: p.GetName(), Endpoint: p.GetEndpoint()}
}

// ResourceToProto converts a resource to the wire.
func ResourceToProto(r Resource) *authv1.Resource {
	return &authv1.Resource{Type: r.Type, Name: r.Name, Endpoint: r.Endpoint}
}

// AccessFromProto converts an access from the wire; anything but GRANT is
// Deny.
func AccessFromProto(a authv1.Access) Access {
	if a == authv1.Access_ACCESS_GRANT {
		return Grant
	}
	return Deny
}

// AccessToProto converts an access to the wire.
func AccessToProto(a Access) authv1.Access {
	if a == Grant {
		return authv1.Access_ACCESS_GRANT
	}
	return authv1.Access_ACCESS_DENY
}
