// @aauth-rs/aauth: AAuth (Agent Auth) for Node >= 20 and browsers, on aauth-core compiled to wasm.
//
// The wasm module exports primitives that take and return JSON strings; this file gives them
// their JS shape and adds `aauthFetch`, which does its I/O with `fetch`. Time comes from
// `Date.now()` (or the caller's `now`), randomness from `crypto.getRandomValues`. Every error
// thrown is an `Error` with a stable `code` (the AAuth/OAuth error code).
import init, * as wasm from './aauth_wasm.js';

const isNode = typeof process !== 'undefined' && !!(process.versions && process.versions.node);

async function loadWasm() {
  const url = new URL('./aauth_wasm_bg.wasm', import.meta.url);
  if (isNode && url.protocol === 'file:') {
    const { readFile } = await import('node:fs/promises');
    return init({ module_or_path: await readFile(url) });
  }
  return init({ module_or_path: url });
}

await loadWasm();

const enc = new TextEncoder();


/** An Error with a stable `code`. */
export class AAuthError extends Error {
  constructor(code, message, extra = {}) {
    super(message);
    this.name = 'AAuthError';
    this.code = code;
    Object.assign(this, extra);
  }
}

function call(fn, ...args) {
  try {
    return fn(...args);
  } catch (e) {
    if (e instanceof Error && typeof e.code === 'string') throw e;
    // A trap in wasm (should not happen: the crate does not panic on input) or a bad argument.
    throw new AAuthError('server_error', `aauth wasm call failed: ${e && e.message ? e.message : e}`);
  }
}

const nowSecs = (now) => (typeof now === 'number' ? Math.floor(now) : Math.floor(Date.now() / 1000));
function asObject(v) {
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v);
  } catch (e) {
    throw new AAuthError('invalid_request', `not JSON: ${e.message}`);
  }
}

function bodyBytes(body) {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return enc.encode(body);
  if (body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  if (typeof URLSearchParams !== 'undefined' && body instanceof URLSearchParams) return enc.encode(body.toString());
  throw new AAuthError('invalid_request', 'body must be a string, Uint8Array, ArrayBuffer or URLSearchParams');
}

const NONCE_METHODS = new Set(['POST', 'PUT', 'DELETE', 'PATCH']);

/** 128 random bits, base64url without padding (a request `Nonce`). */
function requestNonce() {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function headerPairs(headers) {
  if (!headers) return [];
  if (typeof Headers !== 'undefined' && headers instanceof Headers) return [...headers.entries()];
  if (Array.isArray(headers)) return headers.map(([n, v]) => [String(n), String(v)]);
  return Object.entries(headers).map(([n, v]) => [n, String(v)]);
}

function splitRequest({ method = 'GET', url, headers }) {
  const u = new URL(url);
  return {
    method: method.toUpperCase(),
    scheme: u.protocol.replace(/:$/, ''),
    authority: u.host,
    target: u.pathname + u.search,
    headers: headerPairs(headers),
  };
}

// ---------------------------------------------------------------------------------------------
// Keys

/** Generates an Ed25519 key; returns a private JWK `{kty, crv, x, d, kid?}`. */
export function generateKey({ kid, seed } = {}) {
  const s = seed ?? crypto.getRandomValues(new Uint8Array(32));
  try {
    return JSON.parse(call(wasm.generateKey, s, kid));
  } finally {
    if (!seed) s.fill(0); // our own seed: wipe it; a caller's seed is left alone
  }
}

/** Validates a JWK (object or JSON) and returns it as an object; private members are kept. */
export function importJwk(jwk) {
  const obj = asObject(jwk);
  call(wasm.publicJwk, JSON.stringify(obj));
  return { ...obj };
}

/** The public JWK of a (private) JWK. */
export function publicJwk(jwk) {
  return JSON.parse(call(wasm.publicJwk, JSON.stringify(asObject(jwk))));
}

/** Exports a JWK: the public members, or everything with `{ private: true }`. */
export function exportJwk(jwk, { private: priv = false } = {}) {
  return priv ? importJwk(jwk) : publicJwk(jwk);
}

/** RFC 7638 SHA-256 thumbprint (base64url). */
export function thumbprint(jwk) {
  return call(wasm.thumbprint, JSON.stringify(asObject(jwk)));
}

/** `Content-Digest` value (`sha-256=:…:`) of a body. */
export function contentDigest(body) {
  return call(wasm.contentDigest, bodyBytes(body) ?? new Uint8Array());
}

// ---------------------------------------------------------------------------------------------
// Signing and verifying

function signOpts(opts) {
  const { key, scheme, id, kid, wellKnown, jwks, jwt, label, expires, components } = opts;
  return JSON.stringify({
    key: key ? asObject(key) : undefined,
    scheme, id, kid, wellKnown, jwks, jwt, label, expires, components,
    created: nowSecs(opts.created ?? opts.now),
  });
}

/** The `Signature-Key` header value for a scheme (`hwk` needs `key`, `jwks` `id`+`kid`, `jwt` `jwt`). */
export function signatureKeyHeader(opts) {
  return call(wasm.signatureKeyHeader, signOpts(opts));
}

/**
 * Signs a request. Returns the headers to add as a plain object
 * (`Signature-Input`, `Signature`, `Signature-Key`, and `Content-Digest` for a body).
 */
export function signRequest(req, opts) {
  const r = splitRequest(req);
  const out = JSON.parse(call(wasm.signRequest, JSON.stringify(r), bodyBytes(req.body), signOpts(opts)));
  return Object.fromEntries(out);
}

function verifyOpts(o) {
  return JSON.stringify({
    now: nowSecs(o.now),
    replay: !!o.replayCache,
    audience: o.audience,
    trustedIssuers: o.trustedIssuers ?? [],
    window: o.window,
    leeway: o.leeway,
  });
}

// The wasm verification exports always take a token cache and a replay cache; these stand in
// when the caller has none (an empty token cache never remembers or finds anything; the
// replay cache is not used when the options say `replay: false`).
let spares;
const spare = () => (spares ??= { tokens: new wasm.TokenCache(0), replay: new wasm.ReplayCache(1) });

/** The key a request needs (`null` for `hwk`), after every keyless check. */
export function verifyKeyRequest(req, opts) {
  const { tokens, replay } = spare();
  const r = call(wasm.verifyCached, tokens, replay, JSON.stringify(splitRequest(req)), bodyBytes(req.body), verifyOpts(opts));
  return r === undefined || r === null ? null : JSON.parse(r);
}

/** Fetches a JSON document (used by verifyRequest and aauthFetch). */
async function getJson(fetchFn, url, code, limits) {
  return (await getDoc(fetchFn, url, code, limits)).body;
}

/**
 * What `Cache-Control` says about a response's freshness (RFC 9111 §5.2.2), as
 * `aauth_http::Freshness::from_headers` reads it: `{maxAge: N}`, `'no-store'` (also
 * `no-cache`, and a `max-age` without valid delta-seconds), or `null` (no usable directive).
 * The most restrictive directive wins.
 */
function freshness(value) {
  let out = null;
  if (typeof value !== 'string') return out;
  for (const directive of value.split(',')) {
    const eq = directive.indexOf('=');
    const name = (eq < 0 ? directive : directive.slice(0, eq)).trim().toLowerCase();
    if (name === 'no-store' || name === 'no-cache') return 'no-store';
    if (name === 'max-age') {
      const arg = eq < 0 ? '' : directive.slice(eq + 1).trim().replace(/^"+|"+$/g, '');
      if (!/^[0-9]+$/.test(arg)) return 'no-store';
      out = { maxAge: Number(arg) };
    }
  }
  return out;
}

// Egress: which URLs key discovery may fetch (aauth-discovery's egress.rs and fetch.rs).
// Digest §3.6, S-22: egress admission before any metadata/JWKS fetch, with size and time limits,
// no redirects, and no private/loopback/link-local targets unless configured.
const MAX_BODY_BYTES = 256 * 1024;
const TIMEOUT = 5; // seconds

/** `[a, b, c, d]` of a dotted-quad IPv4 text, else null. */
function v4Octets(text) {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  const o = m && m.slice(1).map(Number);
  return o && o.every((n) => n < 256) ? o : null;
}

/** The 8 segments of an IPv6 address in the WHATWG URL serialisation (hex, `::`, no dots). */
function v6Segments(text) {
  const [head, tail] = text.split('::');
  const a = head ? head.split(':') : [];
  const b = tail ? tail.split(':') : [];
  const zeros = tail === undefined ? [] : Array(8 - a.length - b.length).fill('0');
  return [...a, ...zeros, ...b].map((s) => parseInt(s, 16));
}

function classifyV4([a, b, c, d]) {
  if (a === 0 && b === 0 && c === 0 && d === 0) return 'unspecified';
  if (a === 255 && b === 255 && c === 255 && d === 255) return 'broadcast';
  if (a === 0) return 'reserved';
  if (a === 127) return 'loopback';
  if (a === 10 || (a === 192 && b === 168)) return 'private';
  if ((a === 172 && b >= 16 && b <= 31) || (a === 100 && b >= 64 && b <= 127)) return 'private';
  if (a === 169 && b === 254) return 'linkLocal';
  if ((a === 192 && b === 0 && c === 2) || (a === 198 && b === 51 && c === 100)) return 'documentation';
  if (a === 203 && b === 0 && c === 113) return 'documentation';
  if ((a === 192 && b === 0 && c === 0) || (a === 198 && (b === 18 || b === 19))) return 'reserved';
  if (a >= 224 && a <= 239) return 'multicast';
  if (a >= 240) return 'reserved';
  return 'public';
}

function classifyV6(s) {
  const v4 = (hi, lo) => classifyV4([hi >> 8, hi & 255, lo >> 8, lo & 255]);
  const zeroUpTo = (n) => s.slice(0, n).every((x) => x === 0);
  // IPv4-mapped, NAT64 (RFC 6052) and 6to4 (RFC 3056): the embedded IPv4 address decides.
  if (zeroUpTo(5) && s[5] === 0xffff) return v4(s[6], s[7]);
  if (zeroUpTo(8)) return 'unspecified';
  if (zeroUpTo(7) && s[7] === 1) return 'loopback';
  if (zeroUpTo(6)) return 'reserved'; // IPv4-compatible, deprecated (RFC 4291 §2.5.5.1)
  const nat64 = s[0] === 0x64 && s[1] === 0xff9b;
  if (nat64 && s.slice(2, 6).every((x) => x === 0)) return v4(s[6], s[7]);
  if (nat64 && s[2] === 1) return 'private'; // local-use NAT64 (RFC 8215)
  if (s[0] === 0x100 && s[1] === 0 && s[2] === 0 && s[3] === 0) return 'reserved'; // discard (RFC 6666)
  if (s[0] === 0x2001 && s[1] === 0xdb8) return 'documentation';
  if (s[0] === 0x2001 && s[1] <= 0x1ff) return 'reserved'; // Teredo, other IETF assignments
  if (s[0] === 0x2002) return v4(s[1], s[2]);
  if (s[0] === 0x3fff && s[1] <= 0x0fff) return 'documentation';
  if ((s[0] & 0xfe00) === 0xfc00) return 'private';
  if ((s[0] & 0xffc0) === 0xfe80) return 'linkLocal';
  if ((s[0] & 0xffc0) === 0xfec0) return 'private';
  if ((s[0] & 0xff00) === 0xff00) return 'multicast';
  if ((s[0] & 0xe000) === 0x2000) return 'public'; // only 2000::/3 is global unicast
  return 'reserved';
}

/** The class of a URL's `hostname` (WHATWG-normalised, IPv6 in brackets), or null for a name. */
function classifyHostname(hostname) {
  if (hostname.startsWith('[')) return classifyV6(v6Segments(hostname.slice(1, -1)));
  const v4 = v4Octets(hostname);
  return v4 ? classifyV4(v4) : null;
}

/**
 * The class of an IP address, as aauth-discovery's `classify_ip`: `'public'`, `'loopback'`,
 * `'private'`, `'linkLocal'`, `'multicast'`, `'broadcast'`, `'documentation'`, `'reserved'` or
 * `'unspecified'`; `null` when `ip` is not an IP address. Any form the URL parser accepts is
 * read (`0x7f.1`, `::ffff:127.0.0.1`); mapped, NAT64 and 6to4 IPv6 addresses are classified by
 * the IPv4 address they embed.
 */
export function classifyIp(ip) {
  let hostname;
  try {
    hostname = new URL(`http://${String(ip).includes(':') ? `[${ip}]` : ip}/`).hostname;
  } catch {
    return null;
  }
  return classifyHostname(hostname);
}

const defaultPort = (url) => (url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80);

/**
 * One `allowHosts` entry: `host`, `host:port` or `[v6]:port` (aauth-discovery's `AllowedHost`);
 * `port` undefined admits every port. A configuration error throws a `TypeError`.
 */
function allowedHost(entry) {
  const e = String(entry).trim();
  const v6 = /^\[([^\]]*)\](?::(.*))?$/.exec(e);
  let [host, port] = v6 ? v6.slice(1) : e.split(':').length === 2 ? e.split(':') : [e, undefined];
  try {
    if (/[/@?#\s]/.test(e) || !host) throw new Error();
    host = new URL(`http://${host.includes(':') ? `[${host}]` : host}/`).hostname;
    if (port !== undefined && !(/^\d{1,5}$/.test(port) && Number(port) < 65536)) throw new Error();
  } catch {
    throw new TypeError(`allowHosts entry ${JSON.stringify(entry)} is not host, host:port or [v6]:port`);
  }
  return { host, port: port === undefined ? undefined : Number(port) };
}

/**
 * Which URLs key discovery may fetch (aauth-discovery's `EgressPolicy`). The default allows
 * only `https` URLs without credentials whose host is a name or a public IP address.
 * `{allowHttp, allowLoopback, allowPrivate}` widen that; `allowHosts` admits named
 * authorities (`'127.0.0.1:8001'`, `'[::1]:9000'`, `'internal.example'` for any port) over
 * http or https whatever their addresses, for local development and tests.
 * `EgressPolicy.dev()` allows http and loopback: never in production.
 *
 * Unlike the Rust hosts, JS cannot see DNS answers, so a public name that resolves to a
 * private address (or is rebound to one) is not caught here: behind untrusted agents, run
 * the verifier behind an egress proxy or pass a `fetch` that checks resolved addresses
 * (with `permitsIp`). `localhost` and `*.localhost` (RFC 6761) are treated as loopback.
 */
export class EgressPolicy {
  #hosts;

  constructor({ allowHttp = false, allowLoopback = false, allowPrivate = false, allowHosts = [] } = {}) {
    this.#hosts = allowHosts.map(allowedHost);
    Object.assign(this, { allowHttp, allowLoopback, allowPrivate, allowHosts: Object.freeze([...allowHosts]) });
    Object.freeze(this);
  }

  /** http and loopback allowed (aauth-discovery's `EgressPolicy::dev`): tests and demos only. */
  static dev(options = {}) {
    return new EgressPolicy({ allowHttp: true, allowLoopback: true, ...options });
  }

  /** True when the policy allows connecting to this IP address (false for anything else). */
  permitsIp(ip) {
    return this.#permits(classifyIp(ip));
  }

  #permits(ipClass) {
    if (ipClass === 'loopback') return this.allowLoopback;
    if (ipClass === 'private') return this.allowPrivate;
    return ipClass === 'public';
  }

  /**
   * Throws unless `url` may be fetched: an `AAuthError` with `code` (default
   * `invalid_signature`: the signer's key cannot be obtained, as aauth-discovery's
   * `EgressDenied`), or `invalid_request` when `url` is not an absolute URL with a host.
   */
  checkUrl(url, code = 'invalid_signature') {
    let u;
    try {
      u = new URL(url);
    } catch {
      throw new AAuthError('invalid_request', `key location ${url} is not a URL`);
    }
    const deny = (why) => new AAuthError(code, `egress policy refused ${u.protocol}//${u.host}: ${why}`);
    if (u.username || u.password) throw deny('credentials in the URL');
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw deny(`${u.protocol} is not http(s)`);
    if (!u.hostname) throw new AAuthError('invalid_request', `key location ${url} has no host`);
    const port = defaultPort(u);
    if (this.#hosts.some((h) => h.host === u.hostname && (h.port === undefined || h.port === port))) return;
    if (u.protocol === 'http:' && !this.allowHttp) throw deny('http is not allowed (https only)');
    const name = u.hostname.replace(/\.$/, '');
    const local = name === 'localhost' || name.endsWith('.localhost');
    const ipClass = classifyHostname(u.hostname) ?? (local ? 'loopback' : 'public');
    if (!this.#permits(ipClass)) throw deny(`${ipClass} address`);
  }
}

/**
 * The fetch limits of key discovery from options: `egress` (an `EgressPolicy` or its
 * constructor options), `maxBodyBytes`, `timeout` (seconds). A bad limit throws a `TypeError`
 * rather than silently lifting it.
 */
function fetchLimits({ egress, maxBodyBytes = MAX_BODY_BYTES, timeout = TIMEOUT }) {
  for (const [name, v] of Object.entries({ maxBodyBytes, timeout })) {
    if (typeof v !== 'number' || !(v > 0)) throw new TypeError(`${name} must be a positive number`);
  }
  return { egress: egress instanceof EgressPolicy ? egress : new EgressPolicy(egress), maxBodyBytes, timeout };
}

/**
 * Whether a `Content-Type` names JSON: absent, `application/json` or any `application/*+json`
 * (`application/jwk-set+json`), as aauth-discovery's `is_json`.
 */
function isJson(contentType) {
  if (contentType === null) return true;
  const media = contentType.split(';')[0].trim().toLowerCase();
  return media === 'application/json' || (media.startsWith('application/') && media.endsWith('+json'));
}

/** Drops a response body that will not be read, so the connection is released. */
function discard(res) {
  try {
    res.body?.cancel?.().catch(() => {});
  } catch {
    /* locked or not a stream: nothing to release */
  }
}

/**
 * Reads a response body, refusing it past `max` bytes: by `Content-Length` before reading,
 * then while reading (the stream is cancelled, nothing more is read).
 */
async function readLimited(res, max, url, code) {
  const tooLarge = () => new AAuthError(code, `${url}: response exceeds the ${max}-byte limit`);
  const declared = Number(res.headers?.get?.('content-length'));
  if (declared > max) throw tooLarge();
  if (!res.body || typeof res.body.getReader !== 'function') {
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (bytes.length > max) throw tooLarge();
    return bytes;
  }
  const reader = res.body.getReader();
  const chunks = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.byteLength;
    if (n > max) {
      reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  const out = new Uint8Array(n);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/**
 * Fetches a JSON document with its `Cache-Control` value (`null` when absent). With `limits`
 * (`{egress, maxBodyBytes, timeout}`, as key discovery uses it): the URL is checked against
 * the egress policy first, redirects are refused (a redirect could lead past the policy), the
 * body is read up to `maxBodyBytes`, and the whole exchange aborted after `timeout` seconds.
 * Without `limits` (the agent's own requests), it is a plain `fetch`.
 */
async function getDoc(fetchFn, url, code, limits) {
  if (!limits) return exchange(fetchFn, url, code, {});
  limits.egress.checkUrl(url, code);
  const abort = new AbortController();
  let timer;
  const expired = new Promise((_, reject) => {
    timer = setTimeout(() => {
      const e = new AAuthError(code, `fetching ${url} timed out after ${limits.timeout} s`);
      abort.abort(e);
      reject(e);
    }, Math.min(limits.timeout * 1000, 2 ** 31 - 1));
  });
  try {
    const answer = exchange(fetchFn, url, code, { signal: abort.signal, limits });
    return await Promise.race([answer, expired]);
  } finally {
    clearTimeout(timer);
  }
}

async function exchange(fetchFn, url, code, { signal, limits }) {
  let res;
  try {
    const init = { headers: { accept: 'application/json' } };
    res = await fetchFn(url, limits ? { ...init, redirect: 'manual', signal } : init);
  } catch (e) {
    throw new AAuthError(code, `fetching ${url} failed: ${e.message}`);
  }
  if (limits && (res.type === 'opaqueredirect' || (res.status >= 300 && res.status < 400))) {
    discard(res);
    throw new AAuthError(code, `fetching ${url}: redirected; redirects are not followed`);
  }
  // Key discovery takes a 200 only, as aauth-discovery does; the agent's own requests any 2xx.
  if (limits ? res.status !== 200 : !res.ok) {
    discard(res);
    throw new AAuthError(code, `fetching ${url}: HTTP ${res.status}`);
  }
  const contentType = res.headers?.get?.('content-type') ?? null;
  if (limits && !isJson(contentType)) {
    discard(res);
    throw new AAuthError(code, `${url}: content type ${contentType} is not JSON`);
  }
  let body;
  try {
    const read = limits && readLimited(res, limits.maxBodyBytes, url, code);
    body = limits ? JSON.parse(new TextDecoder().decode(await read)) : await res.json();
  } catch (e) {
    if (e instanceof AAuthError) throw e;
    throw new AAuthError(code, `${url} is not JSON`);
  }
  const cacheControl = res.headers && typeof res.headers.get === 'function' ? res.headers.get('cache-control') : null;
  return { body, cacheControl };
}

/** The refetch floor: "MUST NOT refetch a given issuer's JWKS more frequently than once per minute" (digest S-23). */
const FLOOR = 60;

/**
 * Fetched metadata documents and JWK Sets by URL, for `verifyRequest` (the JS counterpart of
 * the Rust hosts' `aauth-discovery` cache, with the same defaults):
 *
 * - a URL is fetched only if `egress` admits it (an `EgressPolicy` or its options; default
 *   https to names and public addresses only); redirects are not followed, a body over
 *   `maxBodyBytes` (256 KiB) and an exchange over `timeout` seconds (5) are refused (S-22);
 * - kept as long as the response's `Cache-Control: max-age` says, clamped to
 *   `minTtl..maxTtl` (default 60 s .. 24 h; `minTtl` is never below the 60 s refetch floor);
 *   `defaultTtl` (5 min) without a usable directive; `no-store` / `no-cache` for `minTtl` only
 *   (a verifier MUST cache a JWKS and MUST NOT fetch it more than once a minute);
 * - at most `capacity` URLs (default 10 000), the least recently used evicted first (S-24);
 * - concurrent lookups of one URL share one fetch and its outcome; a failure is remembered
 *   for `negativeTtl` seconds (default and minimum 60, the refetch floor), and lookups within
 *   it are refused without a fetch, so a failing URL cannot be used to amplify requests;
 * - a JWKS without the `kid` a request names is fetched again, at most once per `minTtl`
 *   per URL (key rotation).
 *
 * Expiry follows the `now` (seconds) of each call. `stats`: `{hits, negativeHits, fetches, evictions}`.
 */
export class KeySetCache {
  #docs = new Map(); // url -> {body?, expires, fetchedAt, error?, errorUntil?}; Map order = least recently used first
  #inflight = new Map(); // url -> Promise<body>

  constructor({
    capacity = 10_000, defaultTtl = 300, minTtl = FLOOR, maxTtl = 86_400, negativeTtl = FLOOR,
    egress, maxBodyBytes, timeout,
  } = {}) {
    this.capacity = Math.max(1, capacity);
    this.defaultTtl = defaultTtl;
    this.minTtl = Math.max(FLOOR, minTtl);
    this.maxTtl = maxTtl;
    this.negativeTtl = Math.max(FLOOR, negativeTtl);
    Object.assign(this, fetchLimits({ egress, maxBodyBytes, timeout })); // egress, maxBodyBytes, timeout
    /**
     * `hits`: lookups answered with a document without fetching (also those that waited for
     * a shared fetch); `negativeHits`: lookups refused with a remembered or shared failure;
     * `fetches`: HTTP requests sent (admitted by the egress policy).
     */
    this.stats = { hits: 0, negativeHits: 0, fetches: 0, evictions: 0 };
  }

  /** The number of URLs held (documents and remembered failures). */
  get size() {
    return this.#docs.size;
  }

  /** Forgets everything, failures too (the next lookups fetch). */
  clear() {
    this.#docs.clear();
  }

  /** The lifetime in seconds a `Cache-Control` value gives (`aauth_http::Freshness::lifetime`). */
  lifetime(cacheControl) {
    const f = freshness(cacheControl);
    const secs = f === null ? this.defaultTtl : f === 'no-store' ? this.minTtl : f.maxAge;
    return Math.min(Math.max(secs, this.minTtl), Math.max(this.maxTtl, this.minTtl));
  }

  /**
   * The JSON document at `url`, from the cache while fresh at `now`, else fetched with
   * `fetch`. With `refresh(body)` returning true for the cached document (a JWKS without
   * the wanted `kid`), it is fetched again if the last fetch is at least `minTtl` old.
   * Rejects with an `AAuthError` (`code`, default `invalid_signature`) when the egress policy
   * refuses `url`, the fetch fails, or a failure is remembered.
   */
  async get(url, { fetch: fetchFn = globalThis.fetch, now, code = 'invalid_signature', refresh } = {}) {
    const t = nowSecs(now);
    const doc = this.#docs.get(url);
    if (doc && 'body' in doc && t < doc.expires) {
      const stale = refresh && refresh(doc.body) && t - doc.fetchedAt >= this.minTtl;
      if (!stale) {
        this.#keep(url, doc); // most recently used
        this.stats.hits++;
        return doc.body;
      }
    }
    const shared = this.#inflight.get(url);
    if (shared) {
      return shared.then(
        (body) => (this.stats.hits++, body),
        (e) => {
          this.stats.negativeHits++;
          throw e;
        },
      );
    }
    if (doc?.error && t < doc.errorUntil) {
      this.stats.negativeHits++;
      throw doc.error;
    }
    // The refetch floor counts every fetch started, including one that fails.
    if (doc) doc.fetchedAt = t;
    // `fetches` counts requests sent: getDoc's egress check refuses before calling fetch.
    const counted = (...args) => (this.stats.fetches++, fetchFn(...args));
    const p = (async () => {
      try {
        const { body, cacheControl } = await getDoc(counted, url, code, this);
        this.#keep(url, { body, expires: t + this.lifetime(cacheControl), fetchedAt: t });
        return body;
      } catch (e) {
        // A document still fresh stays (a failed kid refresh must not take known keys down);
        // the failure answers for this URL until `negativeTtl` has passed.
        const old = this.#docs.get(url);
        const fresh = old && 'body' in old && t < old.expires ? old : {};
        this.#keep(url, { ...fresh, fetchedAt: t, error: e, errorUntil: t + this.negativeTtl });
        throw e;
      } finally {
        this.#inflight.delete(url);
      }
    })();
    this.#inflight.set(url, p);
    return p;
  }

  /** Stores `entry` for `url` as the most recently used, evicting beyond `capacity`. */
  #keep(url, entry) {
    this.#docs.delete(url);
    this.#docs.set(url, entry);
    while (this.#docs.size > this.capacity) {
      this.#docs.delete(this.#docs.keys().next().value);
      this.stats.evictions++;
    }
  }
}

/** The cache `verifyRequest` uses unless given `keyCache` (one per module instance). */
export const defaultKeyCache = new KeySetCache();

const lacksKid = (kid) => (jwks) => !(Array.isArray(jwks?.keys) && jwks.keys.some((k) => k && k.kid === kid));

// The members that name whom a metadata document describes, per well-known suffix: each
// present must equal the identifier it was fetched for (digest §2.7, S-15), as in
// aauth-discovery (hosts/discovery/src/location.rs, `identifying_members`).
const IDENTIFYING = {
  'aauth-agent': ['agent', 'issuer'],
  'aauth-resource': ['resource', 'issuer'],
};

/**
 * The `jwks_uri` of metadata fetched from `source.url` for `source.id`, after the checks
 * aauth-discovery makes: identifying members equal the identifier (a document naming another
 * party is a mix-up), `jwks_uri` an http(s) URL on the metadata's origin unless
 * `allowCrossOrigin` (digest §3.6: a cross-origin `jwks_uri` needs explicit configuration).
 */
function jwksUriOf(md, source, allowCrossOrigin, code) {
  if (md === null || typeof md !== 'object' || Array.isArray(md)) {
    throw new AAuthError(code, `metadata at ${source.url} is not a JSON object`);
  }
  for (const member of IDENTIFYING[source.wellKnown] ?? ['issuer']) {
    const v = md[member];
    if (v === undefined) continue;
    if (v !== source.id) {
      throw new AAuthError(code, `metadata at ${source.url} names ${member} ${JSON.stringify(v)}, not ${source.id}`);
    }
  }
  if (typeof md.jwks_uri !== 'string') throw new AAuthError(code, 'metadata has no jwks_uri');
  let url;
  try {
    url = new URL(md.jwks_uri);
  } catch {
    throw new AAuthError(code, `metadata jwks_uri ${md.jwks_uri} is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new AAuthError(code, `metadata jwks_uri ${md.jwks_uri} is not http(s)`);
  }
  if (!allowCrossOrigin && url.origin !== new URL(source.url).origin) {
    throw new AAuthError(code, `metadata jwks_uri ${md.jwks_uri} is on another origin than ${source.url}`);
  }
  return md.jwks_uri;
}

/**
 * Default key resolution: metadata -> jwks_uri -> JWK Set, or a JWKS URL. The metadata must
 * name the identifier it was fetched for (when it names one) and its `jwks_uri` must be on its
 * origin unless `allowCrossOriginJwksUri`, as aauth-discovery requires. With `cache` (a
 * `KeySetCache`), both documents are taken from it under its egress policy and limits, and a
 * JWKS missing the request's `kid` is refetched at most once per minute. Without one, every
 * call fetches, under `egress`, `maxBodyBytes` and `timeout` (the `KeySetCache` defaults).
 */
export async function fetchKeySet(
  keyRequest,
  {
    fetch: fetchFn = globalThis.fetch, cache, now, allowCrossOriginJwksUri = false,
    egress, maxBodyBytes, timeout,
  } = {},
) {
  const code = 'invalid_signature';
  const limits = cache ? undefined : fetchLimits({ egress, maxBodyBytes, timeout });
  const get = cache
    ? (url, refresh) => cache.get(url, { fetch: fetchFn, now, code, refresh })
    : (url) => getJson(fetchFn, url, code, limits);
  const refresh = typeof keyRequest.kid === 'string' ? lacksKid(keyRequest.kid) : undefined;
  if (keyRequest.source.jwks) return get(keyRequest.source.jwks, refresh);
  const source = keyRequest.source.metadata;
  const md = await get(source.url);
  return get(jwksUriOf(md, source, allowCrossOriginJwksUri, code), refresh);
}

/**
 * The `Nonce` values a JS resource has accepted (digest L§10.5), bounded: pass one to
 * `verifyRequest` as `replayCache`. `new ReplayCache(capacity = 100000)`; `.size`.
 */
export const ReplayCache = wasm.ReplayCache;

function resolveKey(kr, opts) {
  if (opts.resolveKey) return opts.resolveKey(kr);
  const cache = opts.keyCache === false ? undefined : opts.keyCache ?? defaultKeyCache;
  return fetchKeySet(kr, {
    fetch: opts.fetch,
    cache,
    now: opts.now,
    allowCrossOriginJwksUri: opts.allowCrossOriginJwksUri,
  });
}

/**
 * Verifies a signed request (for resources written in JS).
 * `opts`: `{audience, trustedIssuers?, now?, window?, leeway?, resolveKey?(keyRequest), fetch?,
 * keyCache?, tokenCache?, replayCache?, allowCrossOriginJwksUri?}`. Keys are fetched through `keyCache` (a `KeySetCache`;
 * default the module's shared `defaultKeyCache`, `false` fetches on every call under the
 * default egress policy and limits) unless `resolveKey` is given. With a `tokenCache`, a `scheme=jwt` token verified before is not
 * verified again (no key lookup) until its `exp`; the request signature always is. With a
 * `replayCache`, a `Nonce` on `POST`/`PUT`/`DELETE`/`PATCH` is accepted once per authority
 * and key within the `created` window; a replay is `invalid_signature`.
 * Returns `{scheme, agent, agentDelegate, thumbprint, jwk, label, created, claims}`.
 */
export async function verifyRequest(req, opts) {
  // A remembered token is looked up before anything is decoded or fetched (a hit: no key
  // lookup, no token signature check; the request signature and the token's claims are
  // checked every time); otherwise the key is resolved and a verified token remembered.
  // Without a tokenCache the spare one (capacity 0) never hits and never keeps anything.
  const tokens = opts.tokenCache ?? spare().tokens;
  const replay = opts.replayCache ?? spare().replay;
  const args = [JSON.stringify(splitRequest(req)), bodyBytes(req.body), verifyOpts(opts)];
  const r = call(wasm.verifyCached, tokens, replay, ...args);
  const first = r === undefined || r === null ? null : JSON.parse(r);
  if (first && first.scheme) return first; // a remembered token: verified
  const key = first ? JSON.stringify(await resolveKey(first, opts)) : null;
  return JSON.parse(call(wasm.verifyRemembering, tokens, replay, ...args, key));
}

/**
 * The `scheme=jwt` tokens a JS resource has verified, bounded (the core's `TokenStore`, the
 * one behind the Rust hosts' cache): pass one to `verifyRequest` as `tokenCache`.
 * `new TokenCache(capacity = 4096)`; `.size`.
 */
export const TokenCache = wasm.TokenCache;

// ---------------------------------------------------------------------------------------------
// Challenges and tokens

/** Parses an `Agent-Auth` header: `{identity, authToken, resourceToken, authServer, userInteraction, algs}`. */
export function parseAgentAuth(value) {
  return JSON.parse(call(wasm.parseAgentAuth, value));
}

/** Builds an `Agent-Auth` header value. */
export function buildAgentAuth(challenge) {
  return call(wasm.buildAgentAuth, JSON.stringify(challenge));
}

/** Decodes a compact JWT without verifying: `{header, payload}`. */
export function decodeToken(token) {
  return JSON.parse(call(wasm.decodeToken, token));
}

/** Verifies a token against a JWK Set: `opts` `{type: 'agent'|'auth'|'resource', issuer?, audience?, now?, leeway?}`. */
export function verifyToken(token, jwks, opts) {
  const o = JSON.stringify({ ...opts, now: nowSecs(opts.now) });
  return JSON.parse(call(wasm.verifyToken, token, JSON.stringify(asObject(jwks)), o));
}

/**
 * Builds a token-endpoint request (unsigned): `{method, url, headers, body}`.
 * `requestType`: `auth` (`resourceToken`, `redirectUri?`), `code` (`code`, `redirectUri`),
 * `refresh` (`refreshToken`), `exchange` (`resourceToken`).
 */
export function buildTokenRequest({ tokenEndpoint, requestType, resourceToken, redirectUri, code, refreshToken }) {
  const f = new URLSearchParams();
  f.set('request_type', requestType);
  if (resourceToken) f.set('resource_token', resourceToken);
  if (code) f.set('code', code);
  if (refreshToken) f.set('refresh_token', refreshToken);
  if (redirectUri) f.set('redirect_uri', redirectUri);
  return {
    method: 'POST',
    url: tokenEndpoint,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: f.toString(),
  };
}

// ---------------------------------------------------------------------------------------------
// aauthFetch: the agent flow

/**
 * Creates a `fetch`-like function that signs every request and answers `Agent-Auth`
 * challenges: sign -> 401 challenge -> token request -> (consent hook) -> retry, caching
 * auth tokens per resource origin and refreshing them before `exp`. Concurrent calls for one
 * origin share a single token acquisition or refresh (and so a single consent round).
 *
 * `options`:
 * - `key`: the agent's private JWK (with `kid` for `jwks`);
 * - `agentId`: the agent server identifier (signs with `scheme=jwks`); without it `hwk`;
 * - `agentToken`: an `agent+jwt` to sign with as an agent delegate (`scheme=jwt`);
 * - `consent({url, requestToken, redirectUri, authServer})`: returns the authorization code;
 * - `redirectUri`, `fetch`, `now()` (seconds), `refreshMargin` (seconds, default 60);
 * - `egress` (an `EgressPolicy` or its options): refuse every URL the policy does not admit,
 *   before contacting it: resources, the auth server a challenge names, its token endpoint
 *   (digest §5.2 S-22; the Rust agent client's `egress`). The auth server's metadata is then
 *   also fetched with `maxBodyBytes` / `timeout` limits and without following redirects.
 *   Without it the client goes wherever it is sent: set one whenever URLs come from parties
 *   you do not trust, above all in a resource calling downstream.
 */
export function createAAuthFetch(opts) {
  let options = { ...opts };
  const fetchFn = options.fetch ?? globalThis.fetch.bind(globalThis);
  const limits = options.egress === undefined ? undefined : fetchLimits(options);
  const now = () => nowSecs(options.now ? options.now() : undefined);
  const margin = options.refreshMargin ?? 60;
  // Like the Rust agent client: an agent server's redirect URI is `{agentId}/callback`.
  options = { redirectUri: options.agentId ? `${options.agentId.replace(/\/$/, '')}/callback` : undefined, ...options };
  const tokens = new Map(); // origin -> {authToken, exp, refreshToken, tokenEndpoint}
  const issuers = new Map();
  const key = importJwk(options.key);

  const identity = () => {
    if (options.agentToken) return { scheme: 'jwt', jwt: options.agentToken };
    if (options.agentId) return { scheme: 'jwks', id: options.agentId, kid: options.kid ?? key.kid, wellKnown: 'aauth-agent' };
    return { scheme: 'hwk' };
  };

  async function send(url, init, scheme) {
    limits?.egress.checkUrl(url, 'invalid_request');
    const headers = headerPairs(init.headers);
    const body = init.body;
    const method = (init.method ?? 'GET').toUpperCase();
    // Digest L§10.5: a client SHOULD send a Nonce (>= 96 bits, base64url) on non-idempotent
    // requests; the signature then covers it and a resource's replay cache refuses a replay.
    if (NONCE_METHODS.has(method) && !headers.some(([n]) => n.toLowerCase() === 'nonce')) {
      headers.push(['nonce', requestNonce()]);
    }
    const req = { method, url, headers, body };
    const added = signRequest(req, { key, now: now(), ...scheme });
    const h = new Headers(headers);
    for (const [n, v] of Object.entries(added)) h.set(n, v);
    return fetchFn(url, { ...init, headers: h, body: body === undefined ? undefined : body });
  }

  async function issuerMetadata(authServer) {
    if (!issuers.has(authServer)) {
      const url = `${authServer.replace(/\/$/, '')}/.well-known/aauth-issuer`;
      issuers.set(authServer, await getJson(fetchFn, url, 'invalid_request', limits));
    }
    return issuers.get(authServer);
  }

  async function tokenRequest(endpoint, fields) {
    const r = buildTokenRequest({ tokenEndpoint: endpoint, ...fields });
    const res = await send(endpoint, r, identity());
    let json = {};
    try {
      json = await res.json();
    } catch {
      /* not JSON */
    }
    if (!res.ok && !(res.status === 202 && json.request_token)) {
      throw new AAuthError(json.error ?? 'server_error', json.error_description ?? `token endpoint: HTTP ${res.status}`, { status: res.status });
    }
    return json;
  }

  function entry(answer, endpoint, previous) {
    if (!answer.auth_token) throw new AAuthError('server_error', 'token response has no auth_token');
    let exp;
    try {
      exp = decodeToken(answer.auth_token).payload.exp;
    } catch {
      /* opaque */
    }
    if (typeof exp !== 'number') exp = now() + (answer.expires_in ?? 0);
    return { authToken: answer.auth_token, exp, refreshToken: answer.refresh_token ?? previous?.refreshToken, tokenEndpoint: endpoint };
  }

  async function authorize(challenge) {
    const md = await issuerMetadata(challenge.authServer);
    const endpoint = md.agent_token_endpoint;
    let answer = await tokenRequest(endpoint, { requestType: 'auth', resourceToken: challenge.resourceToken, redirectUri: options.redirectUri });
    if (!answer.auth_token && answer.request_token) {
      if (!options.consent) throw new AAuthError('consent_required', 'the auth server requires user consent and no consent hook is set');
      if (!options.redirectUri) throw new AAuthError('invalid_request', 'consent needs redirectUri');
      const u = new URL(md.agent_auth_endpoint);
      u.searchParams.set('request_token', answer.request_token);
      u.searchParams.set('redirect_uri', options.redirectUri);
      const code = await options.consent({ url: u.toString(), requestToken: answer.request_token, redirectUri: options.redirectUri, authServer: challenge.authServer });
      if (typeof code !== 'string' || code === '') throw new AAuthError('access_denied', 'the consent hook returned no authorization code');
      answer = await tokenRequest(endpoint, { requestType: 'code', code, redirectUri: options.redirectUri });
    }
    return entry(answer, endpoint);
  }

  async function refresh(t) {
    const answer = await tokenRequest(t.tokenEndpoint, { requestType: 'refresh', refreshToken: t.refreshToken });
    return entry(answer, t.tokenEndpoint, t);
  }

  // Single flight: one token acquisition (or refresh) per origin at a time; concurrent
  // calls for the same resource wait for it instead of each running the flow (and each
  // asking the person for consent).
  const inflight = new Map(); // origin -> Promise<token entry | null>
  function once(origin, acquire) {
    let p = inflight.get(origin);
    if (!p) {
      p = (async () => {
        try {
          return await acquire();
        } finally {
          inflight.delete(origin);
        }
      })();
      inflight.set(origin, p);
    }
    return p;
  }

  async function usable(origin) {
    if (inflight.has(origin)) {
      try {
        await inflight.get(origin);
      } catch {
        /* the caller that started it reports the error; this one runs the flow itself */
      }
    }
    const t = tokens.get(origin);
    if (!t) return null;
    if (now() + margin < t.exp) return t;
    if (t.refreshToken) {
      const fresh = await once(origin, async () => {
        const current = tokens.get(origin);
        if (current !== t) return current ?? null; // someone else already replaced it
        try {
          const r = await refresh(t);
          tokens.set(origin, r);
          return r;
        } catch {
          t.refreshToken = undefined;
          return null;
        }
      });
      if (fresh && now() < fresh.exp) return fresh;
    }
    if (now() < t.exp) return t;
    if (tokens.get(origin) === t) tokens.delete(origin);
    return null;
  }

  const aauthFetch = async function aauthFetch(input, init = {}) {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.toString() : input.url;
    const origin = new URL(url).origin;
    let token = await usable(origin);
    for (let attempt = 0; attempt < 4; attempt++) {
      const scheme = token ? { scheme: 'jwt', jwt: token.authToken } : identity();
      const res = await send(url, init, scheme);
      if (res.status !== 401) return res;
      const header = res.headers.get('agent-auth');
      if (!header) return res;
      const challenge = parseAgentAuth(header);
      if (challenge.resourceToken && challenge.authServer) {
        const tried = token;
        token = await once(origin, async () => {
          // A concurrent call may have stored a token since this request was sent.
          const cached = tokens.get(origin);
          if (cached && cached !== tried && now() < cached.exp) return cached;
          const t = await authorize(challenge);
          tokens.set(origin, t);
          return t;
        });
        continue;
      }
      if (token) {
        // The token was refused and no new resource token offered: identify again.
        if (tokens.get(origin) === token) tokens.delete(origin);
        token = null;
        continue;
      }
      if (challenge.identity && identity().scheme === 'hwk') {
        throw new AAuthError('identity_required', `${url} requires agent identity (set agentId)`, { response: res });
      }
      return res;
    }
    throw new AAuthError('server_error', `${url}: too many challenges`);
  };
  aauthFetch.tokens = tokens;
  return aauthFetch;
}

/** One-shot form: `aauthFetch(url, init, options)`. Prefer `createAAuthFetch` to keep the token cache. */
export async function aauthFetch(input, init, options) {
  return createAAuthFetch(options)(input, init);
}


