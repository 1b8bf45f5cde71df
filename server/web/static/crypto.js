// Byte helpers on Web Crypto: SHA-256, HMAC-SHA256, Ed25519, canonical JSON (RFC 8785
// subset of docs/fairness.md section 5), and the sealed-bid commitment of docs/formats.md.
// Everything is computed in this browser; nothing here talks to the network.

const enc = new TextEncoder();

export function utf8(s) { return enc.encode(s); }

export function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function unhex(s) {
  if (typeof s !== "string" || s.length % 2 || /[^0-9a-f]/.test(s)) throw new Error(`not lowercase hex: ${String(s).slice(0, 20)}`);
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function concat(...parts) {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

export function equal(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export async function sha256(...parts) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", concat(...parts)));
}

export async function hmacKey(key) {
  return crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
}

export async function hmac(key, ...parts) {
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, concat(...parts)));
}

export function u64be(n) {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n));
  return out;
}

export function u16be(n) {
  const out = new Uint8Array(2);
  new DataView(out.buffer).setUint16(0, n);
  return out;
}

export function randomHex(nBytes) { return hex(crypto.getRandomValues(new Uint8Array(nBytes))); }

/** Canonical JSON (RFC 8785 for null, booleans, safe integers, strings, arrays, objects). */
export function canonical(value) {
  if (value === null || typeof value === "boolean") return JSON.stringify(value);
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new Error(`not a safe integer: ${value}`);
    return Object.is(value, -0) ? "0" : String(value);
  }
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (typeof value === "object") {
    const keys = Object.keys(value).sort(); // UTF-16 code unit order, as RFC 8785 says
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(",")}}`;
  }
  throw new Error(`not canonical JSON data: ${typeof value}`);
}

export function canonicalBytes(value) { return utf8(canonical(value)); }

/**
 * Strict parse: refuses floats, exponents and integers beyond 2^53 - 1, using the source
 * text of each number (JSON.parse source access).
 */
export function strictParse(text) {
  return JSON.parse(text, function (key, value, context) {
    if (typeof value === "number") {
      const src = context && context.source;
      if (src !== undefined && /[.eE]/.test(src)) throw new Error(`a float is not allowed: ${src}`);
      if (!Number.isSafeInteger(value)) throw new Error(`integer out of the safe range: ${src ?? value}`);
    }
    return value;
  });
}

let edSupport = null;
/** True if this browser's Web Crypto verifies Ed25519. */
export async function ed25519Supported() {
  if (edSupport !== null) return edSupport;
  try {
    await crypto.subtle.importKey("raw", new Uint8Array(32).fill(1), { name: "Ed25519" }, false, ["verify"]);
    edSupport = true;
  } catch (err) {
    edSupport = err && err.name !== "NotSupportedError" && err.name !== "TypeError" ? true : false;
  }
  return edSupport;
}

/** Ed25519 over tag || digest (docs/fairness.md: every signature is over a tagged hash). */
export async function ed25519Verify(publicKey, tag, digest, signature) {
  try {
    const key = await crypto.subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
    return await crypto.subtle.verify({ name: "Ed25519" }, key, signature, concat(utf8(tag), digest));
  } catch { return false; }
}

/**
 * Sealed-bid commitment (docs/formats.md): SHA-256(amount u64be || nonce (32 bytes) ||
 * u16be(len bidder) || bidder || u16be(len auction) || auction), lowercase hex.
 */
export async function sealedCommitment(amount, nonceHex, bidder, auction) {
  const b = utf8(bidder), a = utf8(auction);
  return hex(await sha256(u64be(amount), unhex(nonceHex), u16be(b.length), b, u16be(a.length), a));
}
