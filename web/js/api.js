// The public API, with the bearer token from localStorage ("gridmap.token", shared with
// stats.html). A 401 anywhere means "log in again": listeners decide what to show.

import { lang, t } from "../i18n.js";

const TOKEN_KEY = "gridmap.token";
const USER_KEY = "gridmap.user";
const unauthorisedListeners = new Set();

export class ApiError extends Error {
  constructor(status, body) {
    super(ApiError.messageOf(status, body));
    this.status = status;
    this.body = body;
  }

  static messageOf(status, body) {
    if (body && (body.message_zh || body.message_en)) {
      return lang() === "zh" ? body.message_zh || body.message_en : body.message_en || body.message_zh;
    }
    return status === 0 ? t("error.network") : t("error.generic", { status });
  }
}

export function token() {
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function savedUser() {
  try {
    return JSON.parse(localStorage.getItem(USER_KEY) || "null");
  } catch {
    return null;
  }
}

export function forget() {
  localStorage.removeItem(TOKEN_KEY);
  localStorage.removeItem(USER_KEY);
}

export function onUnauthorised(listener) {
  unauthorisedListeners.add(listener);
}

/** The header to send with requests made by other libraries (vector tiles). */
export function authHeaders() {
  const value = token();
  return value ? { Authorization: `Bearer ${value}` } : {};
}

/** GET (or other) JSON from the API; throws ApiError. `signal` aborts stale requests. */
export async function api(path, { method = "GET", body, signal, form } = {}) {
  const headers = { Accept: "application/json", ...authHeaders() };
  let payload;
  if (form) {
    payload = new URLSearchParams(form);
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, { method, headers, body: payload, signal });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, null);
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    if (response.status === 401 && !form) for (const listener of unauthorisedListeners) listener();
    throw new ApiError(response.status, data);
  }
  return data;
}

/** Log in with the OAuth2 password form; keeps the token and who logged in. */
export async function login(username, password) {
  const result = await api("/api/v1/auth/token", { method: "POST", form: { username, password } });
  const user = { username: result.username, role: result.role, scope: result.scope };
  localStorage.setItem(TOKEN_KEY, result.access_token);
  localStorage.setItem(USER_KEY, JSON.stringify(user));
  return user;
}

/** Query string from an object, skipping empty values. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, value);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}
