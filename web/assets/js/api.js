// The API client and the session.
//
// The access token lives only in memory (a script injected later cannot read
// storage it never reaches, and a reload simply refreshes). The refresh token is
// kept in localStorage so a reload or a new tab stays signed in: acceptable for
// this app, whose pages run only our own scripts (a strict CSP, no inline code).
// Refresh tokens rotate: every refresh returns a new one, and only one refresh
// runs at a time so two requests never spend the same token.

const REFRESH_KEY = "matinee.refresh";
const ACCOUNT_KEY = "matinee.account";

/** An API answer that was not a success, with its problem detail. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `request failed (${status})`);
    this.name = "ApiError";
    this.status = status;
    this.problem = problem || {};
  }
}

let accessToken = null;
let refreshing = null;
let refreshTimer = 0;
const listeners = new Set();

/** Call fn(signedIn) whenever the session starts or ends. */
export function onSessionChange(fn) {
  listeners.add(fn);
}

function notify() {
  for (const fn of listeners) fn(Boolean(accessToken));
}

export function signedIn() {
  return Boolean(accessToken);
}

export function accountId() {
  return localStorage.getItem(ACCOUNT_KEY);
}

function adopt(tokens) {
  accessToken = tokens.access_token;
  localStorage.setItem(REFRESH_KEY, tokens.refresh_token);
  localStorage.setItem(ACCOUNT_KEY, tokens.account_id);
  clearTimeout(refreshTimer);
  // Refresh a little before expiry so requests never wait on it.
  const lead = Math.max(5, Math.min(60, tokens.expires_in * 0.2));
  refreshTimer = setTimeout(() => refresh().catch(() => {}), (tokens.expires_in - lead) * 1000);
  notify();
}

function forget() {
  accessToken = null;
  clearTimeout(refreshTimer);
  localStorage.removeItem(REFRESH_KEY);
  notify();
}

async function readBody(response) {
  const type = response.headers.get("content-type") || "";
  if (response.status === 204) return null;
  if (type.includes("json")) return response.json();
  return response.text();
}

async function raw(path, { method = "GET", body, signal, token, keepalive } = {}) {
  const headers = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
    keepalive,
    credentials: "omit",
  });
  const data = await readBody(response);
  if (!response.ok) throw new ApiError(response.status, typeof data === "object" ? data : null);
  return data;
}

/** Exchange the stored refresh token for a new pair (one at a time); false if signed out. */
export function refresh() {
  if (refreshing) return refreshing;
  const stored = localStorage.getItem(REFRESH_KEY);
  if (!stored) return Promise.resolve(false);
  refreshing = raw("/api/auth/refresh", { method: "POST", body: { refresh_token: stored } })
    .then((tokens) => {
      adopt(tokens);
      return true;
    })
    .catch((err) => {
      // A refused token ends the session; a network failure keeps it for a retry.
      if (!(err instanceof ApiError)) throw err;
      if (err.status < 500 && err.status !== 429) forget();
      return false;
    })
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

/** Call the API as the signed-in account; one refresh and retry on 401. */
export async function api(path, options = {}) {
  if (!accessToken) await refresh();
  try {
    return await raw(path, { ...options, token: accessToken });
  } catch (err) {
    if (err instanceof ApiError && err.status === 401 && localStorage.getItem(REFRESH_KEY)) {
      if (await refresh()) return raw(path, { ...options, token: accessToken });
    }
    throw err;
  }
}

export async function signUp(email, password, plan) {
  adopt(await raw("/api/auth/signup", { method: "POST", body: { email, password, plan } }));
}

export async function signIn(email, password) {
  adopt(await raw("/api/auth/login", { method: "POST", body: { email, password } }));
}

export async function signOut() {
  const stored = localStorage.getItem(REFRESH_KEY);
  forget();
  localStorage.removeItem(ACCOUNT_KEY);
  if (stored) {
    await raw("/api/auth/logout", { method: "POST", body: { refresh_token: stored } }).catch(
      () => {},
    );
  }
}

/** Resume the session from a stored refresh token (once, at start). */
export async function restore() {
  if (!localStorage.getItem(REFRESH_KEY)) return false;
  try {
    return await refresh();
  } catch {
    return false;
  }
}

/** Build a query string from the defined values of params. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const text = q.toString();
  return text ? `?${text}` : "";
}

/** A short, human sentence for an error, for the page. */
export function describe(err) {
  if (err instanceof ApiError) {
    if (err.status === 429) return "Too many requests; try again in a moment.";
    if (err.status >= 500) return "The service is having trouble right now; try again shortly.";
    return err.message;
  }
  if (err?.name === "AbortError") return "Cancelled.";
  return "Can't reach Matinee; check your connection.";
}
