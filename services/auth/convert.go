package auth

import (
	"maps"
	"slices"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	authv1 "m3o.dev/proto/m3o/auth/v1"
)

func accountProto(a Account) *authv1.Account {
	st := authv1.AccountStatus_ACCOUNT_STATUS_ACTIVE
	if a.Disabled {
		st = authv1.AccountStatus_ACCOUNT_STATUS_DISABLED
	}
	return &authv1.Account{
		Id: a.ID, Name: a.Name, Namespace: a.Namespace, Type: accountTypeProto(a.Type),
		Roles: slices.Clone(a.Roles), Metadata: maps.Clone(a.Metadata), Created: timestamppb.New(a.Created), Status: st,
	}
}

func accountTypeProto(t AccountType) authv1.AccountType {
	if t == TypeService {
		return authv1.AccountType_ACCOUNT_TYPE_SERVICE
	}
	return authv1.AccountType_ACCOUNT_TYPE_USER
}

func accountTypeFromProto(t authv1.AccountType) AccountType {
	if t == authv1.AccountType_ACCOUNT_TYPE_SERVICE {
		return TypeService
	}
	return TypeUser
}

func issuedProto(i Issued) *authv1.TokenResponse {
	return &authv1.TokenResponse{
		Token: &authv1.Token{
			AccessToken: i.AccessToken, RefreshToken: i.RefreshToken,
			Expiry: timestamppb.New(i.Expiry), Created: timestamppb.New(i.Created),
		},
		Account: accountProto(i.Account),
	}
}

func publicKeysProto(keys []PublicKey, revoked map[string]time.Time, sessions []string) *authv1.PublicKeysResponse {
	out := &authv1.PublicKeysResponse{RevokedBefore: make(map[string]*timestamppb.Timestamp, len(revoked)), RevokedSessions: sessions}
	for _, k := range keys {
		pk := &authv1.PublicKey{Kid: k.Kid, Key: slices.Clone([]byte(k.Key))}
		if !k.NotAfter.IsZero() {
			pk.NotAfter = timestamppb.New(k.NotAfter)
		}
		out.Keys = append(out.Keys, pk)
	}
	for id, t := range revoked {
		out.RevokedBefore[id] = timestamppb.New(t)
	}
	return out
}

func inviteProto(inv Invite) *authv1.Invite {
	out := &authv1.Invite{Email: inv.Email, Created: timestamppb.New(inv.Created), CreatedBy: inv.CreatedBy, Namespace: inv.Namespace}
	if !inv.SignedUp.IsZero() {
		out.SignedUp = timestamppb.New(inv.SignedUp)
	}
	return out
}
