package auth

// database is the store service's system database that only auth opens.
const database = "_auth"

// Tables of the _auth database.
const (
	tableAccounts        = "accounts"         // <namespace>/<name> → storedAccount
	tableAccountIDs      = "account_ids"      // <id> → accountRef
	tableNamespaces      = "namespaces"       // <namespace> → namespaceRecord
	tableRules           = "rules"            // <namespace>/<id> → rules.Rule
	tableRefresh         = "refresh"          // <sha-256 of token, hex> → refreshRecord
	tableFamilies        = "families"         // <family id> → familyRecord
	tableRevoked         = "revoked"          // <account id> → revocation
	tableRevokedSessions = "revoked_sessions" // <session id> → sessionRevocation
	tableKeys            = "keys"             // <kid> → keyRecord
	tableInvites         = "invites"          // <email> → Invite
	tableAdmins          = "admins"           // "micro" → adminSet
	tableChanges         = "changes"          // "tokens" or "rules" → changeLog
	tableEmails          = "emails"           // <lower-cased email> → emailRecord
	tableSignups         = "signups"          // <lower-cased email> → signupRecord
	tableSignupTokens    = "signup_tokens"    // <sha-256 of token, hex> → signupTokenRef
	tablePasswordResets  = "password_resets"  // <lower-cased email> → resetRecord
	tableMeta            = "meta"             // <task> → metaRecord
)
