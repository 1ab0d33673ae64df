// Types for @aauth-rs/aauth.

/** A JSON Web Key; private keys carry `d`. */
export interface Jwk {
  kty: string; crv?: string; x?: string; y?: string; n?: string; e?: string;
  d?: string; kid?: string; alg?: string; use?: string;
  [member: string]: unknown;
}
export interface JwkSet { keys: Jwk[] }

/** Every error thrown by this package has a stable `code` (e.g. `invalid_signature`). */
export class AAuthError extends Error {
  code: string;
  status?: number;
  response?: Response;
}

export type HeadersInitLike = Headers | Record<string, string> | [string, string][];
export type BodyLike = string | Uint8Array | ArrayBuffer | ArrayBufferView | URLSearchParams;

export interface RequestLike {
  method?: string;
  url: string;
  headers?: HeadersInitLike;
  body?: BodyLike;
}

export type Scheme = 'hwk' | 'jwks' | 'jwt';

export interface SignOptions {
  /** The signer's private JWK (Ed25519). */
  key: Jwk | string;
  scheme: Scheme;
  /** `jwks`: the agent identifier and key id; `wellKnown` defaults to `aauth-agent`. */
  id?: string; kid?: string; wellKnown?: string;
  /** `jwks` mode 1: the JWKS URL instead of `id`. */
  jwks?: string;
  /** `jwt`: the agent or auth token. */
  jwt?: string;
  /** `created` in seconds; defaults to `now`, which defaults to `Date.now() / 1000`. */
  created?: number; now?: number; expires?: number;
  /** Extra covered header fields (lower case). */
  components?: string[];
  label?: string;
}

export interface KeyRequest {
  source: { jwks: string } | { metadata: { id: string; wellKnown: string; url: string } };
  kid: string | null;
  purpose: 'signer' | 'agentToken' | 'authToken' | 'other';
}

export interface VerifyOptions {
  /** This resource's identifier (the required `aud` of tokens). */
  audience: string;
  trustedIssuers?: string[];
  now?: number; window?: number; leeway?: number;
  /** Returns the JWK Set (or JWK) for a key request; default: fetch metadata then jwks_uri. */
  resolveKey?: (req: KeyRequest) => Promise<JwkSet | Jwk>;
  fetch?: typeof fetch;
  /**
   * Where fetched metadata and JWK Sets are kept (unless `resolveKey` is given): default
   * `defaultKeyCache`, shared by the module; `false` fetches them on every verification.
   * The cache's egress policy decides which URLs may be fetched (`false`: the default policy).
   */
  keyCache?: KeySetCache | false;
  /**
   * Remember verified `scheme=jwt` tokens: a token seen again needs no key and no token
   * signature check until its `exp` (the request signature is verified every time).
   */
  tokenCache?: TokenCache;
  /** Refuse a replayed `Nonce` on POST/PUT/DELETE/PATCH (keep one per resource). */
  replayCache?: ReplayCache;
  /**
   * Accept a metadata `jwks_uri` on another origin than the metadata (default `false`: such
   * metadata is refused, as aauth-discovery refuses it).
   */
  allowCrossOriginJwksUri?: boolean;
}

/** The class of an IP address for egress decisions (aauth-discovery's `IpClass`). */
export type IpClass =
  | 'broadcast' | 'documentation' | 'linkLocal' | 'loopback' | 'multicast'
  | 'private' | 'public' | 'reserved' | 'unspecified';

/**
 * The class of an IP address (any form the URL parser reads; `::ffff:`-mapped, NAT64 and 6to4
 * IPv6 addresses by the IPv4 address they embed), or `null` when `ip` is not an IP address.
 */
export function classifyIp(ip: string): IpClass | null;

export interface EgressOptions {
  /** Allow `http` URLs (default `false`: https only). */
  allowHttp?: boolean;
  /** Allow loopback addresses, `localhost` and `*.localhost` (default `false`). */
  allowLoopback?: boolean;
  /** Allow private addresses (`10/8`, `172.16/12`, `192.168/16`, `100.64/10`, `fc00::/7`, …; default `false`). */
  allowPrivate?: boolean;
  /**
   * Authorities admitted over http or https whatever their address: `host`, `host:port` or
   * `[v6]:port` (`'127.0.0.1:8001'` for a local demo server); without a port, every port.
   * An entry that is not one of these (a URL, say) throws a `TypeError`.
   */
  allowHosts?: string[];
}

/**
 * Which URLs key discovery may fetch (aauth-discovery's `EgressPolicy`). The default admits
 * only `https` URLs without credentials whose host is a name or a public IP address. JS
 * cannot see DNS answers: a name resolving to a private address is not caught here (run
 * behind an egress proxy, or pass a `fetch` that checks resolved addresses).
 */
export class EgressPolicy {
  constructor(options?: EgressOptions);
  /** http and loopback allowed: tests and demos only. */
  static dev(options?: EgressOptions): EgressPolicy;
  readonly allowHttp: boolean;
  readonly allowLoopback: boolean;
  readonly allowPrivate: boolean;
  readonly allowHosts: readonly string[];
  /**
   * True when the policy allows connecting to this IP address (false for anything that is not
   * one): what a `fetch` that checks resolved addresses would ask.
   */
  permitsIp(ip: string): boolean;
  /**
   * Throws an `AAuthError` unless `url` may be fetched: `code` (default `invalid_signature`)
   * when refused, `invalid_request` when `url` is not an absolute URL with a host.
   */
  checkUrl(url: string, code?: string): void;
}

export interface KeySetCacheOptions {
  /** Most URLs held (default 10 000); the least recently used goes first. */
  capacity?: number;
  /** Seconds a document without a usable `Cache-Control` is kept (default 300). */
  defaultTtl?: number;
  /** Lower clamp of `max-age` and lifetime of `no-store`/`no-cache` (default and minimum 60). */
  minTtl?: number;
  /** Upper clamp of `max-age` (default 86 400). */
  maxTtl?: number;
  /** Seconds a failed fetch is remembered, refusing the URL without a fetch (default and minimum 60). */
  negativeTtl?: number;
  /** Which URLs may be fetched (default `new EgressPolicy()`: https to names and public addresses). */
  egress?: EgressPolicy | EgressOptions;
  /** Largest response body accepted, in bytes (default 262 144 = 256 KiB); must be > 0. */
  maxBodyBytes?: number;
  /** Seconds (not milliseconds) one fetch may take, headers and body (default 5); must be > 0. */
  timeout?: number;
}

/**
 * Metadata documents and JWK Sets by URL, fetched under an egress policy with size and time
 * limits and no redirects, with lifetimes from `Cache-Control` (clamped), shared in-flight
 * fetches, failures remembered for `negativeTtl`, and at most one refetch a minute per URL
 * for an unknown `kid`.
 */
export class KeySetCache {
  constructor(options?: KeySetCacheOptions);
  readonly capacity: number;
  readonly defaultTtl: number;
  readonly minTtl: number;
  readonly maxTtl: number;
  readonly negativeTtl: number;
  readonly egress: EgressPolicy;
  readonly maxBodyBytes: number;
  readonly timeout: number;
  /**
   * `hits`: lookups answered without a fetch of their own; `negativeHits`: lookups refused
   * with a remembered or shared failure; `fetches`: requests sent.
   */
  readonly stats: { hits: number; negativeHits: number; fetches: number; evictions: number };
  /** URLs held (documents and remembered failures). */
  readonly size: number;
  /** The lifetime (seconds) a `Cache-Control` value gives. */
  lifetime(cacheControl: string | null): number;
  /** The JSON document at `url` (fresh at `now`, else fetched; a remembered failure rejects). */
  get(url: string, opts?: { fetch?: typeof fetch; now?: number; code?: string; refresh?: (doc: unknown) => boolean }): Promise<unknown>;
  clear(): void;
}

/** The `KeySetCache` `verifyRequest` uses by default. */
export const defaultKeyCache: KeySetCache;

/** Verified `scheme=jwt` tokens, bounded (default capacity 4096, first in first out). */
export class TokenCache {
  constructor(capacity?: number);
  /** How many tokens are remembered. */
  readonly size: number;
  free(): void;
}

/** Accepted `Nonce` values, bounded (default capacity 100 000). */
export class ReplayCache {
  constructor(capacity?: number);
  /** How many nonces are remembered. */
  readonly size: number;
  free(): void;
}

export interface VerifiedRequest {
  scheme: Scheme | 'other';
  agent: string | null;
  agentDelegate: string | null;
  thumbprint: string;
  jwk: Jwk;
  label: string;
  created: number | null;
  claims: Record<string, unknown> | null;
}

export interface AgentAuthChallenge {
  identity?: boolean | null;
  authToken?: boolean;
  resourceToken?: string | null;
  authServer?: string | null;
  userInteraction?: string | null;
  algs?: string[];
}

export interface TokenRequestInput {
  tokenEndpoint: string;
  requestType: 'auth' | 'code' | 'refresh' | 'exchange';
  resourceToken?: string; redirectUri?: string; code?: string; refreshToken?: string;
}

export interface ConsentRequest {
  /** Where the person goes: `{agent_auth_endpoint}?request_token=…&redirect_uri=…`. */
  url: string;
  requestToken: string;
  redirectUri: string;
  authServer: string;
}

export interface AAuthFetchOptions {
  key: Jwk | string;
  agentId?: string;
  kid?: string;
  agentToken?: string;
  redirectUri?: string;
  /** Called when the auth server needs consent; resolves to the authorization code. */
  consent?: (req: ConsentRequest) => Promise<string>;
  fetch?: typeof fetch;
  /** Current time in seconds (default `Date.now() / 1000`). */
  now?: () => number;
  refreshMargin?: number;
  /**
   * Refuse every URL this policy does not admit before contacting it (resources, the auth
   * server a challenge names, its token endpoint); the auth server's metadata is then fetched
   * with `maxBodyBytes` / `timeout` limits and no redirects. Default: no policy.
   */
  egress?: EgressPolicy | EgressOptions;
  maxBodyBytes?: number;
  timeout?: number;
}

export interface CachedToken { authToken: string; exp: number; refreshToken?: string; tokenEndpoint: string }

/**
 * A `fetch` that runs the agent flow. Concurrent calls to one origin share a single token
 * acquisition or refresh (one consent round). `tokens`: the cache, by resource origin.
 */
export type AAuthFetch = ((input: string | URL | Request, init?: RequestInit) => Promise<Response>) & {
  tokens: Map<string, CachedToken>;
};

export function generateKey(opts?: { kid?: string; seed?: Uint8Array }): Jwk;
export function importJwk(jwk: Jwk | string): Jwk;
export function publicJwk(jwk: Jwk | string): Jwk;
export function exportJwk(jwk: Jwk | string, opts?: { private?: boolean }): Jwk;
export function thumbprint(jwk: Jwk | string): string;
export function contentDigest(body: BodyLike): string;
export function signatureKeyHeader(opts: Omit<SignOptions, 'key'> & { key?: Jwk | string }): string;
export function signRequest(req: RequestLike, opts: SignOptions): Record<string, string>;
export function verifyKeyRequest(req: RequestLike, opts: VerifyOptions): KeyRequest | null;
export function fetchKeySet(
  req: KeyRequest,
  opts?: {
    fetch?: typeof fetch; cache?: KeySetCache; now?: number; allowCrossOriginJwksUri?: boolean;
    /** Without `cache` only (a cache applies its own): the egress policy and limits. */
    egress?: EgressPolicy | EgressOptions; maxBodyBytes?: number; timeout?: number;
  },
): Promise<JwkSet>;
export function verifyRequest(req: RequestLike, opts: VerifyOptions): Promise<VerifiedRequest>;
export function parseAgentAuth(value: string): AgentAuthChallenge;
export function buildAgentAuth(challenge: AgentAuthChallenge): string;
export function decodeToken(token: string): { header: { alg: string; typ: string | null; kid: string | null }; payload: Record<string, unknown> };
export function verifyToken(token: string, jwks: JwkSet | Jwk | string, opts: { type: 'agent' | 'auth' | 'resource'; issuer?: string; audience?: string; now?: number; leeway?: number }): Record<string, unknown>;
export function buildTokenRequest(input: TokenRequestInput): { method: 'POST'; url: string; headers: Record<string, string>; body: string };
export function createAAuthFetch(options: AAuthFetchOptions): AAuthFetch;
export function aauthFetch(input: string | URL | Request, init: RequestInit | undefined, options: AAuthFetchOptions): Promise<Response>;
