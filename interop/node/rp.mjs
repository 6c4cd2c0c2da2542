// rp.mjs: one relying party's login against Foyer, done entirely by
// openid-client (panva, OpenID Certified), driven by the Go test
// cmd/foyer/interop_node_test.go, which plays the browser.
//
// Settings come from the environment:
//
//   FOYER_ISSUER                 issuer identifier (discovery starts here)
//   RP_CLIENT_ID                 client_id
//   RP_CLIENT_SECRET             client secret (not for RP_AUTH=none)
//   RP_AUTH                      client_secret_basic | client_secret_post | none
//   RP_REDIRECT_URI              redirect_uri sent in the authorization request
//   RP_SCOPE                     scope
//   RP_RESPONSE_MODE             "" (query) or form_post
//   RP_ID_TOKEN_ALG              the only ID token alg the client accepts
//   RP_POST_LOGOUT_REDIRECT_URI  when set, an end-session URL is built too
//
// Conversation, one JSON object a line:
//
//   stdout {"step":"authorize","url":...}          send a browser there
//   stdin  {"method":"GET","url":...}              the callback the browser got
//       or {"method":"POST","url":...,"body":...}  (form_post: the form body)
//   stdout {"step":"done",...}                     what the library accepted
//       or {"step":"error","stage":...,...}        what it refused, then exit 1
//
// Nothing here works around Foyer: whatever the library refuses is reported.

import * as client from 'openid-client'
import { createHash } from 'node:crypto'
import { createInterface } from 'node:readline'

const env = (name, fallback) => {
  const v = process.env[name]
  if (v === undefined || v === '') {
    if (fallback !== undefined) return fallback
    throw new Error(`${name} is not set`)
  }
  return v
}

const say = (obj) => process.stdout.write(JSON.stringify(obj) + '\n')

// plain turns what openid-client throws (and what it hangs on errors:
// Responses, URLSearchParams, JOSE headers) into JSON for the Go test.
function plain(v, depth = 0) {
  if (depth > 4 || v === null || v === undefined) return v ?? null
  if (typeof v !== 'object') return typeof v === 'function' ? undefined : v
  if (v instanceof URLSearchParams) return Object.fromEntries(v)
  if (v instanceof Headers) return Object.fromEntries(v)
  if (typeof Response !== 'undefined' && v instanceof Response) {
    return { status: v.status, headers: Object.fromEntries(v.headers) }
  }
  if (v instanceof Error) {
    const out = { name: v.name, message: v.message }
    for (const k of ['code', 'error', 'error_description', 'status']) {
      if (v[k] !== undefined) out[k] = v[k]
    }
    if (v.cause !== undefined) out.cause = plain(v.cause, depth + 1)
    return out
  }
  if (Array.isArray(v)) return v.map((x) => plain(x, depth + 1))
  const out = {}
  for (const [k, x] of Object.entries(v)) out[k] = plain(x, depth + 1)
  return out
}

// header decodes a compact JWS header, to report which key signed a token.
// The signature itself is checked by openid-client, not here.
function header(jwt) {
  if (typeof jwt !== 'string') return null
  return JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString('utf8'))
}

// atHash is OIDC Core §3.1.3.6's at_hash for a JWS alg: the left half of
// the access token's hash with the alg's hash function (SHA-512 for EdDSA
// over Ed25519, as oauth4webapi hashes c_hash and s_hash). openid-client
// does not check at_hash in the code flow (§3.1.3.8 makes it optional
// there), so the script checks it itself and reports the result.
function atHash(accessToken, alg) {
  const fn = { RS256: 'sha256', ES256: 'sha256', PS256: 'sha256', EdDSA: 'sha512', Ed25519: 'sha512' }[alg]
  if (!fn) return null
  const sum = createHash(fn).update(accessToken, 'ascii').digest()
  return sum.subarray(0, sum.length / 2).toString('base64url')
}

function readLine() {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: process.stdin })
    rl.once('line', (line) => {
      resolve(line) // first: close() emits 'close' at once
      rl.close()
    })
    rl.once('close', () => reject(new Error('stdin closed before the callback arrived')))
  })
}

const clientAuth = {
  client_secret_basic: () => client.ClientSecretBasic(env('RP_CLIENT_SECRET')),
  client_secret_post: () => client.ClientSecretPost(env('RP_CLIENT_SECRET')),
  none: () => client.None(),
}

let stage = 'settings'
try {
  const issuer = new URL(env('FOYER_ISSUER'))
  const clientId = env('RP_CLIENT_ID')
  const auth = env('RP_AUTH')
  if (!clientAuth[auth]) throw new Error(`RP_AUTH ${auth} is not one of ${Object.keys(clientAuth)}`)
  const redirectUri = env('RP_REDIRECT_URI')
  const scope = env('RP_SCOPE')
  const responseMode = env('RP_RESPONSE_MODE', '')
  const alg = env('RP_ID_TOKEN_ALG')
  const postLogout = env('RP_POST_LOGOUT_REDIRECT_URI', '')

  stage = 'discovery'
  // allowInsecureRequests only because the test issuer is http on loopback.
  const config = await client.discovery(
    issuer,
    clientId,
    { id_token_signed_response_alg: alg },
    clientAuth[auth](),
    { execute: [client.allowInsecureRequests], timeout: 10 },
  )

  stage = 'authorization request'
  const verifier = client.randomPKCECodeVerifier()
  const state = client.randomState()
  const nonce = client.randomNonce()
  const params = {
    redirect_uri: redirectUri,
    scope,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  }
  if (responseMode) params.response_mode = responseMode
  say({ step: 'authorize', url: client.buildAuthorizationUrl(config, params).href })

  stage = 'callback'
  const cb = JSON.parse(await readLine())
  const current =
    cb.method === 'POST'
      ? new Request(cb.url, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: cb.body,
        })
      : new URL(cb.url)

  stage = 'authorization code grant'
  const tokens = await client.authorizationCodeGrant(config, current, {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  })
  const claims = tokens.claims()

  stage = 'userinfo'
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub)

  stage = 'refresh token grant'
  if (!tokens.refresh_token) throw new Error('the token response has no refresh_token')
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token)
  const refreshedClaims = refreshed.claims() ?? null

  stage = 'userinfo after refresh'
  const refreshedUserinfo = await client.fetchUserInfo(config, refreshed.access_token, claims.sub)

  stage = 'end session url'
  let endSessionUrl = null
  if (postLogout) {
    endSessionUrl = client.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token,
      post_logout_redirect_uri: postLogout,
      state: client.randomState(),
    }).href
  }

  say({
    step: 'done',
    token_type: tokens.token_type,
    scope: tokens.scope ?? null,
    expires_in: tokens.expiresIn() ?? null,
    id_token_header: header(tokens.id_token),
    id_token_claims: claims,
    at_hash_ok: claims.at_hash === atHash(tokens.access_token, header(tokens.id_token).alg),
    userinfo,
    refresh_token_rotated: Boolean(refreshed.refresh_token) && refreshed.refresh_token !== tokens.refresh_token,
    refreshed_id_token_header: header(refreshed.id_token),
    refreshed_id_token_claims: refreshedClaims,
    refreshed_at_hash_ok:
      refreshedClaims === null ||
      refreshedClaims.at_hash === atHash(refreshed.access_token, header(refreshed.id_token).alg),
    refreshed_userinfo: refreshedUserinfo,
    end_session_url: endSessionUrl,
  })
  process.exitCode = 0
} catch (err) {
  say({ step: 'error', stage, ...plain(err) })
  process.exitCode = 1
}
