// Shared by every page: language, sign-in, money, names, REST helper, header.
// Plain ES modules, no build step, nothing fetched from outside this server.
import en from "./i18n/en.js";
import fr from "./i18n/fr.js";

const DICTS = { en, fr };
const LANG_KEY = "fairlot.lang";
const TOKEN_KEY = "fairlot.token";
const listeners = new Set();

function initialLang() {
  const saved = localStorage.getItem(LANG_KEY);
  if (saved && DICTS[saved]) return saved;
  const q = new URLSearchParams(location.search).get("lang");
  if (q && DICTS[q]) return q;
  return (navigator.language || "en").toLowerCase().startsWith("fr") ? "fr" : "en";
}

let lang = initialLang();

export function currentLang() { return lang; }

/** The string for `key` in the current language, with {name} placeholders filled. */
export function t(key, vars = {}) {
  const raw = DICTS[lang][key] ?? DICTS.en[key] ?? key;
  return raw.replace(/\{(\w+)\}/g, (_, k) => (k in vars ? String(vars[k]) : `{${k}}`));
}

export function setLang(next) {
  if (!DICTS[next] || next === lang) return;
  lang = next;
  localStorage.setItem(LANG_KEY, next);
  applyI18n();
  for (const fn of listeners) fn(next);
}

export function onLangChange(fn) { listeners.add(fn); }

/** Fill every [data-i18n] element's text and [data-i18n-<attr>] attribute. */
export function applyI18n(root = document) {
  document.documentElement.lang = lang;
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const attr of ["placeholder", "aria-label", "title"]) {
    const data = "i18n" + attr.replace(/(^|-)(\w)/g, (_, __, c) => c.toUpperCase());
    for (const el of root.querySelectorAll(`[data-i18n-${attr}]`)) el.setAttribute(attr, t(el.dataset[data]));
  }
  const title = document.querySelector("[data-i18n-doc-title]");
  if (title) document.title = t(title.dataset.i18nDocTitle) + " · fairlot";
  for (const b of document.querySelectorAll(".lang button")) b.setAttribute("aria-pressed", String(b.dataset.lang === lang));
}

// ------------------------------------------------------------------ sign-in

export function getToken() { return localStorage.getItem(TOKEN_KEY); }

/** Claims of our own token, for display only (the server checks the signature). */
export function tokenClaims(token = getToken()) {
  if (!token) return null;
  try {
    const body = token.split(".")[0].replace(/-/g, "+").replace(/_/g, "/");
    const claims = JSON.parse(atob(body + "=".repeat((4 - (body.length % 4)) % 4)));
    if (typeof claims.exp === "number" && claims.exp <= Date.now()) return null;
    return claims;
  } catch { return null; }
}

export function currentUser() { return tokenClaims()?.sub ?? null; }

export function setToken(token) {
  if (token) localStorage.setItem(TOKEN_KEY, token); else localStorage.removeItem(TOKEN_KEY);
  window.dispatchEvent(new CustomEvent("fairlot:identity"));
}

let configPromise = null;
export function serverConfig() {
  configPromise ??= fetch("/web/config").then((r) => (r.ok ? r.json() : { demo: false }), () => ({ demo: false }));
  return configPromise;
}

export async function demoSignIn(name, role = "bidder") {
  const r = await fetch("/web/token", {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ user: name, role }),
  });
  const data = await r.json();
  if (!r.ok) throw new Error(data.message || data.code || String(r.status));
  setToken(data.token);
  return data.token;
}

/** JSON REST call with the bearer token; throws Error(code: message) on 4xx/5xx. */
export async function api(path, { method = "GET", body, raw = false } = {}) {
  const headers = {};
  const token = getToken();
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (raw) return r;
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { message: text }; }
  if (!r.ok) {
    const err = new Error((data && (data.message || data.error?.message)) || `HTTP ${r.status}`);
    err.code = data?.code || data?.error?.code || String(r.status);
    err.status = r.status;
    throw err;
  }
  return data;
}

// ------------------------------------------------------------------ money, names, time

const MINOR = { JPY: 0, KRW: 0, CLP: 0, ISK: 0, BHD: 3, KWD: 3, TND: 3 };
export function minorDigits(currency) { return MINOR[currency] ?? 2; }

/** Integer minor units -> localized money string, exactly (no float arithmetic). */
export function formatMoney(minor, currency) {
  if (minor === null || minor === undefined) return "—";
  const d = minorDigits(currency);
  const neg = minor < 0;
  const s = String(Math.abs(minor)).padStart(d + 1, "0");
  const dec = d ? `${s.slice(0, -d)}.${s.slice(-d)}` : s;
  try {
    return new Intl.NumberFormat(lang, { style: "currency", currency, minimumFractionDigits: d }).format((neg ? "-" : "") + dec);
  } catch { return `${neg ? "-" : ""}${dec} ${currency}`; }
}

/** A typed amount ("12", "12.5", "12,50", "1 234,50") -> integer minor units, or null. */
export function parseMoney(text, currency) {
  const d = minorDigits(currency);
  const clean = String(text).trim().replace(/[\s\u00a0\u202f']/g, "");
  const m = /^(\d+)(?:[.,](\d*))?$/.exec(clean);
  if (!m) return null;
  const frac = m[2] || "";
  if (frac.length > d) return null;
  const value = Number(m[1] + frac.padEnd(d, "0"));
  return Number.isSafeInteger(value) ? value : null;
}

/** Minor units -> the plain editable form ("12.50"). */
export function moneyInputValue(minor, currency) {
  const d = minorDigits(currency);
  const s = String(minor).padStart(d + 1, "0");
  return d ? `${s.slice(0, -d)}.${s.slice(-d)}` : s;
}

export function currencySymbol(currency) {
  try {
    const part = new Intl.NumberFormat(lang, { style: "currency", currency }).formatToParts(0).find((p) => p.type === "currency");
    return part ? part.value : currency;
  } catch { return currency; }
}

/** Mask a name like certificates mask handles: "alice" -> "a***e". */
export function maskName(name) {
  if (!name) return "—";
  const c = [...name];
  if (c.length <= 2) return c[0] + "*";
  if (c.length <= 5) return c[0] + "*".repeat(c.length - 2) + c[c.length - 1];
  return c[0] + c[1] + "*".repeat(c.length - 3) + c[c.length - 1];
}

export function displayName(name) {
  if (!name) return "—";
  return name === currentUser() ? t("you") : maskName(name);
}

/** Milliseconds -> "1d 02:03:04" / "02:03:04" / "03:04". */
export function fmtDuration(ms) {
  ms = Math.max(0, ms);
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const p = (n) => String(n).padStart(2, "0");
  if (d) return `${d}${t("unit_day")} ${p(h)}:${p(m)}:${p(sec)}`;
  if (h) return `${p(h)}:${p(m)}:${p(sec)}`;
  return `${p(m)}:${p(sec)}`;
}

/** A rule's span in words: "1 min", "90 s", "2 h". */
export function fmtSpan(ms) {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  return `${Math.round(ms / 1000)} s`;
}

export function fmtTime(ms) {
  return new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit", second: "2-digit" }).format(new Date(ms));
}

export function fmtDateTime(ms) {
  return new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "medium" }).format(new Date(ms));
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c);
  return node;
}

// ------------------------------------------------------------------ header

const NAV = [
  ["/", "nav_home"],
  ["/host", "nav_host"],
  ["/verify", "nav_verify"],
];

/** The page header: brand, navigation, language switch, sign-in. */
export async function renderHeader({ active = "", signin = true, role = "bidder" } = {}) {
  const header = document.querySelector("header.top");
  header.replaceChildren(
    el("a", { class: "brand", href: "/" }, el("span", { class: "brand-mark", "aria-hidden": "true" }), "fairlot"),
    el("nav", { "aria-label": "Main", "data-i18n-aria-label": "nav_label" },
      ...NAV.map(([href, key]) => el("a", { href, "data-i18n": key, "aria-current": active === href ? "page" : null }))),
    el("div", { class: "top-tools" },
      signin ? el("div", { class: "signin-slot" }) : null,
      el("div", { class: "lang", role: "group", "aria-label": "Language", "data-i18n-aria-label": "language" },
        el("button", { type: "button", "data-lang": "en", lang: "en", onclick: () => setLang("en") }, "EN"),
        el("button", { type: "button", "data-lang": "fr", lang: "fr", onclick: () => setLang("fr") }, "FR"))),
  );
  if (signin) await renderSignin(header.querySelector(".signin-slot"), role);
  applyI18n();
}

async function renderSignin(slot, role) {
  const config = await serverConfig();
  const draw = () => {
    const user = currentUser();
    if (user) {
      slot.replaceChildren(
        el("span", { class: "who-am-i" }, t("signed_in_as", { user })),
        el("button", { type: "button", class: "secondary", "data-i18n": "sign_out", onclick: () => setToken(null) }),
      );
    } else {
      const input = el("input", { id: "signin-name", autocomplete: "nickname", "data-i18n-placeholder": config.demo ? "your_name" : "paste_token", maxlength: config.demo ? "32" : "4096" });
      const form = el("form", { class: "signin", onsubmit: async (e) => {
        e.preventDefault();
        const value = input.value.trim();
        if (!value) return input.focus();
        try {
          if (config.demo) await demoSignIn(value, role); else setToken(value);
        } catch (err) { input.setCustomValidity(err.message); input.reportValidity(); }
      } },
        el("label", { for: "signin-name", class: "sr-only", "data-i18n": config.demo ? "your_name" : "paste_token" }),
        input,
        el("button", { type: "submit", "data-i18n": "sign_in" }));
      slot.replaceChildren(form);
    }
    applyI18n(slot);
  };
  draw();
  window.addEventListener("fairlot:identity", draw);
  onLangChange(draw);
}

export function announce(region, text, kind = "") {
  region.className = `notice ${kind}`;
  region.textContent = text;
}
