// Package swiftclient is swiftfs's only view of OpenStack Swift: the narrow
// [Client] interface over one container, its implementation on
// github.com/ncw/swift/v2 ([New]), the error kinds every implementation
// reports, and the retry policy. No other swiftfs package imports ncw/swift;
// tests use the in-memory [github.com/swiftfs/swiftfs/swiftclient/swiftfake]
// and check any implementation with the conformance suite
// [github.com/swiftfs/swiftfs/swiftclient/swiftclienttest].
//
// # Contract
//
// Object names are full names in the container, any valid UTF-8 of at most
// 1024 bytes (the server's max_object_name_length when /info tells) without
// NUL; they are percent-encoded on the wire, so "%", "?", "#", spaces,
// "a//b", "x/../y", "." and ".." are all ordinary names (Swift does not
// normalise paths). An empty name is ErrInvalid.
//
//   - Stat is a HEAD; Get a GET with a Range header for partial reads. The
//     ObjectInfo of a Get describes the whole object, whatever the range.
//     Reading at the end (off == Size) gives an empty reader; past it,
//     ErrInvalid.
//   - Put sends the whole body with Content-Length = size and, when
//     PutOptions.MD5 is set, the MD5 as ETag so that Swift verifies the
//     body (ErrCorrupted, HTTP 422, and nothing stored on mismatch). Without
//     MD5 the client hashes what it sends. Either way the ETag Swift returns
//     is compared, and a mismatch is ErrCorrupted. A Put without content
//     type stores application/octet-stream (Swift would guess from the
//     name). With Segments, Put writes a Static Large Object manifest
//     (multipart-manifest=put); Swift checks each segment's size and ETag.
//   - Delete is a DELETE; with MultipartManifest, an SLO is deleted with
//     its segments (multipart-manifest=delete), and a plain object is
//     deleted as usual. Beware: the segments of a manifest copied with
//     CopyOptions.ManifestOnly are shared, and a multipart delete of either
//     manifest deletes them for both.
//   - List is one page of the JSON listing. Subdirectories (with a
//     Delimiter) come as ObjectInfo{Subdir: true}. An SLO is listed with
//     its total size and LargeObject set; a DLO manifest is listed with
//     size 0 and cannot be recognised without a HEAD. More is true when the
//     page is full (a following page may be empty). Listings carry no user
//     metadata and are eventually consistent on a real cluster.
//   - Copy is a server-side COPY, followed by a HEAD of the destination for
//     the returned ObjectInfo. ManifestOnly copies an SLO's manifest
//     (multipart-manifest=get), an O(1) rename for large objects.
//   - Update is a POST: it replaces all user metadata (send the whole set),
//     changes the content type when one is given, and also clears
//     X-Delete-At.
//
// LastModified comes from X-Timestamp in HEAD and GET answers, which is
// exactly the listing's last_modified, so that a (size, ETag, LastModified)
// fingerprint taken from a Stat matches the one from a listing. Put only
// learns Last-Modified, which Swift rounds up to the second.
//
// User metadata keys are the lower-case suffix of X-Object-Meta-*; see
// [ValidateMeta] for what is refused because Swift would not return it
// unchanged (upper case, "_", surrounding blanks).
//
// # Concurrency
//
// A Client is safe for concurrent use by any number of goroutines. The
// ncw/swift Connection serialises authentication with its own lock; requests
// run in parallel over up to 64 idle keep-alive connections per host. The
// reader returned by Get must be closed, is bound to the context given to
// Get, and must not be shared between goroutines.
//
// # Retries and idempotency
//
// Retrying happens here only; callers (fs, cache) never retry. The table in
// retry.go lists what is retried: 408, 429, 498, 500, 502, 503, 504 and
// transport failures (connection refused or reset, EOF, timeouts), with
// exponential back-off from 0.5s to at most 10s, jittered to [d/2, d], at
// most Options.Retries+1 (default 5) attempts, honouring Retry-After (delay
// seconds or an HTTP date; a Retry-After over 60s ends the retries). The
// wait ends when the context is cancelled. While [Health] says Swift is
// unreachable (a request gave up on retried failures, and nothing has
// answered since), every request makes a single attempt (health.go).
//
// Stat, Get, List, Container, Copy, Update, Delete and Put are idempotent
// and retried on all of these. A Put with IfNoneMatch is not: it is retried
// only when the request certainly was not carried out (429, 498, connection
// refused), since a repeat after a lost 201 would wrongly report
// ErrPreconditionFailed. A Delete retried after an ambiguous failure that
// then finds the object gone succeeds. A Put is resent from the start of its
// body (Seek to 0), so bodies must be io.ReadSeekers such as the cache's
// *os.File; reads go through ReadAt when the body has it, and a late read by
// an abandoned attempt cannot disturb the next one. Only the opening request
// of a Get is retried, not the reading of its body.
//
// Token expiry is transparent: ncw/swift re-authenticates once when a
// request gets 401 and resends it, rewinding the (seekable) body; Keystone
// tokens are also renewed before use when they have under a minute left. A
// 401 that survives the re-authentication is ErrUnauthorized.
//
// # Errors
//
// Every error from a Client is an [*Error] with Op, Name, the HTTP Status
// (0 for transport failures), Swift's X-Trans-Id when there was an answer,
// and the cause. errors.Is matches exactly one kind: ErrNotFound (404, also
// fs.ErrNotExist), ErrPreconditionFailed (412, also fs.ErrExist),
// ErrUnauthorized (401, fs.ErrPermission), ErrForbidden (403,
// fs.ErrPermission), ErrRateLimited (429, 498), ErrCorrupted (422 or an
// ETag mismatch), ErrTooLarge (413), ErrConflict (409), ErrUnavailable (408,
// 5xx, transport failures, cancellation; errors.Is(err, context.Canceled)
// still holds), ErrInvalid (400, 411, 416, and requests refused before
// sending), ErrOther. The classification is done once, in classify.go, with
// errors.As on *swift.Error and its StatusCode; no code matches error text.
// Errors reading a Get body are classified the same way.
//
// New says which step failed: "no credentials: set OS_AUTH_URL ... or
// ST_AUTH ..." (ErrInvalid), "cannot reach auth URL ..." (ErrUnavailable),
// "authentication failed for user X at URL: wrong credentials"
// (ErrUnauthorized), "container X does not exist" (ErrNotFound). It gives up
// after 10 seconds in all; a refused connection fails within a second.
//
// # Authentication
//
// Credentials come from [Options.Auth], each empty field filled from a
// cloud of clouds.yaml when Options.Cloud or OS_CLOUD names one (clouds.go:
// gophercloud's parser behind a search path, a permission check and the
// user's and project's domains kept apart; the OS_* and ST_* credential
// variables are then ignored), or else from the environment
// (Options.Getenv, os.Getenv by default), as OpenStack rc files set it:
//
//   - Keystone v3 password: OS_AUTH_URL, OS_USERNAME or OS_USER_ID,
//     OS_PASSWORD, OS_USER_DOMAIN_NAME or OS_USER_DOMAIN_ID, OS_PROJECT_NAME
//     (or OS_TENANT_NAME) or OS_PROJECT_ID (or OS_TENANT_ID),
//     OS_PROJECT_DOMAIN_NAME or OS_PROJECT_DOMAIN_ID, OS_TRUST_ID.
//   - Keystone v3 application credential: OS_AUTH_URL,
//     OS_APPLICATION_CREDENTIAL_ID (or _NAME with OS_USERNAME and
//     OS_USER_DOMAIN_NAME), OS_APPLICATION_CREDENTIAL_SECRET.
//   - Keystone v2 (legacy): as v3, with a /v2.0 URL or
//     OS_IDENTITY_API_VERSION=2.
//   - v1 (tempauth, swauth): ST_AUTH, ST_USER, ST_KEY (ST_AUTH_VERSION).
//     These are used together only when ST_AUTH gives the URL.
//   - Pre-authenticated: OS_STORAGE_URL and OS_AUTH_TOKEN. With an auth
//     URL too, the token is used first and renewed with the credentials;
//     alone, an expired token is final (ErrUnauthorized).
//
// Keystone options: OS_REGION_NAME picks the object-store endpoint (default:
// the first), OS_INTERFACE or OS_ENDPOINT_TYPE its interface (public,
// internal, admin; "publicURL" style accepted). The version is
// OS_IDENTITY_API_VERSION or ST_AUTH_VERSION, else guessed from "v1", "v2"
// or "v3" in the URL, else 3; "/v3" is appended to an unversioned Keystone
// URL. [DescribeAuth] states the resulting mode, URL, user and project for
// the start-up log.
//
// # Secrets
//
// Passwords, keys and tokens are of type [Secret], which prints as REDACTED
// with every fmt verb, in slog output and in JSON. Options.PasswordFile
// reads the password (or application credential secret) from a file that
// must be a regular file owned by the user and not accessible by group or
// others, instead of the environment or a cloud. A clouds.yaml or
// secure.yaml holding a secret must not be accessible by group or others
// either. Error texts never contain credentials:
// neither ncw/swift nor net/http put them there, and classify also removes
// any configured secret an auth server's answer might echo. The client
// itself prints as "swiftclient(container ... at URL)".
package swiftclient
