// The draw verifier, in the browser: the same checks, in the same order, as
// `fairlot verify` (draws/verify.py), following docs/fairness.md. Every value is
// recomputed here from the files; the document's own claims are only compared against.
// The one step not recomputed is drand's BLS pairing: it is reported as "cli" (run
// `fairlot verify` for it); the beacon's round, timing and randomness ARE checked here.
import {
  canonicalBytes, concat, ed25519Supported, ed25519Verify, equal, hex, hmac, hmacKey, sha256, strictParse,
  u64be, unhex, utf8,
} from "./crypto.js";

export const CHECK_ORDER = [
  "format", "rules", "commitment", "commitment_signature", "chain_link", "beacon", "seed",
  "root", "winners", "alternates", "substitutions", "certificate_signature", "receipt",
];

const BODY_KEYS = ["alternates", "beacon_value", "branding", "commitment", "commitment_hash", "commitment_signature",
  "rules", "seed", "type", "version", "waterfall", "winners"];
const COMMITMENT_KEYS = ["algorithm", "alternates", "beacon", "close_time_ms", "draw_id", "host_id", "host_key",
  "host_seq", "merkle_root", "n", "prev_cert_hash", "raw_import_sha256", "rules_hash", "total_weight", "type",
  "weighted", "winners"];
const RULES_KEYS = ["exclude", "min_mentions", "one_per_user", "required_hashtags", "version", "window_end_ms", "window_start_ms"];
const PICK_KEYS = ["audit_path", "handle", "index", "leaf", "position"];
const QUICKNET = {
  kind: "drand", chain: "quicknet",
  chain_hash: "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971",
  public_key: "83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c8c4b450b6a0a6c3ac6a5776a2d1064510d1fec758c921cc22b0e17e63aaf4bcb5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a",
  genesis: 1692803367, period: 3,
};
const LEAVES_MAGIC = utf8("fairlot-leaves/1\n");
const MAX = Number.MAX_SAFE_INTEGER;
export const TRUST_PUBLIC = "public: drand round verified against the pinned network key";
export const TRUST_WEAK = "WEAKER: host commit-reveal (the host could choose the value; demo/offline use)";

const sameKeys = (obj, keys) => obj && typeof obj === "object" && !Array.isArray(obj)
  && JSON.stringify(Object.keys(obj).sort()) === JSON.stringify([...keys].sort());
const isInt = (v) => Number.isSafeInteger(v);
const isHex = (v, bytes) => typeof v === "string" && /^([0-9a-f]{2})*$/.test(v) && (bytes === undefined || v.length === 2 * bytes);

function must(cond, message) { if (!cond) throw new Error(message); }

export function roundTimeMs(spec) { return (spec.genesis + (spec.round - 1) * spec.period) * 1000; }

export function readyAtMs(spec) { return spec.kind === "drand" ? roundTimeMs(spec) : spec.reveal_after_ms; }

function parseCommitment(c) {
  must(sameKeys(c, COMMITMENT_KEYS), `commitment keys must be ${COMMITMENT_KEYS.join(", ")}`);
  must(c.type === "fairlot/commitment" && c.algorithm === "fairlot-draw/1", "not a fairlot-draw/1 commitment");
  for (const k of ["draw_id", "host_id"]) must(typeof c[k] === "string" && c[k].length > 0, `${k} must be a string`);
  for (const k of ["host_seq", "n", "total_weight", "winners", "alternates", "close_time_ms"]) must(isInt(c[k]), `${k} must be an integer`);
  must(typeof c.weighted === "boolean", "weighted must be a boolean");
  must(isHex(c.host_key, 32), "host_key: 32 bytes of hex");
  for (const k of ["rules_hash", "raw_import_sha256", "merkle_root"]) must(isHex(c[k], 32), `${k}: 32 bytes of hex`);
  must(c.host_seq >= 1, "host_seq >= 1");
  must((c.prev_cert_hash === null) === (c.host_seq === 1), "prev_cert_hash is null exactly when host_seq is 1");
  if (c.prev_cert_hash !== null) must(isHex(c.prev_cert_hash, 32), "prev_cert_hash: 32 bytes of hex");
  must(c.winners >= 1 && c.alternates >= 0 && c.winners + c.alternates <= c.n, "winners >= 1, alternates >= 0, winners + alternates <= n");
  must(c.n <= c.total_weight && c.total_weight <= MAX, "n <= total_weight <= 2^53 - 1");
  must(c.weighted || c.total_weight === c.n, "an unweighted draw has total_weight = n");
  const b = c.beacon;
  must(b && typeof b === "object", "beacon spec missing");
  if (b.kind === "drand") {
    must(sameKeys(b, ["kind", "chain", "chain_hash", "public_key", "genesis", "period", "round"]), "drand beacon keys");
    for (const k of ["chain", "chain_hash", "public_key", "genesis", "period"]) must(b[k] === QUICKNET[k], "drand parameters differ from the pinned chain");
    must(isInt(b.round) && b.round >= 1, "drand round must be a positive integer");
  } else if (b.kind === "commit-reveal") {
    must(sameKeys(b, ["kind", "round", "reveal_commitment", "reveal_after_ms"]), "commit-reveal beacon keys");
    must(isHex(b.reveal_commitment, 32) && isInt(b.reveal_after_ms) && isInt(b.round), "commit-reveal beacon fields");
  } else throw new Error(`unknown beacon kind ${JSON.stringify(b.kind)}`);
}

function parsePicks(items, expected, what) {
  must(Array.isArray(items) && items.length === expected, `${what}: expected a list of ${expected}`);
  items.forEach((p, pos) => {
    must(sameKeys(p, PICK_KEYS), `${what}[${pos}]: keys must be ${PICK_KEYS.join(", ")}`);
    must(p.position === pos && isInt(p.index), `${what}[${pos}]: bad position or index`);
    must(isHex(p.leaf, 40) && typeof p.handle === "string", `${what}[${pos}]: leaf is 40 bytes of hex`);
    must(Array.isArray(p.audit_path) && p.audit_path.every((h) => isHex(h, 32)), `${what}[${pos}]: audit path of 32-byte hashes`);
  });
}

function parseCertificate(doc) {
  must(sameKeys(doc, ["body", "certificate_hash", "signature", "substitutions"]), "top level must be {body, certificate_hash, signature, substitutions}");
  const body = doc.body;
  must(sameKeys(body, BODY_KEYS), `body keys must be ${BODY_KEYS.join(", ")}`);
  must(body.type === "fairlot/certificate" && body.version === 1, "not a fairlot certificate of version 1");
  parseCommitment(body.commitment);
  must(sameKeys(body.rules, RULES_KEYS), "rules keys");
  const v = body.beacon_value;
  must(v && typeof v === "object" && typeof v.kind === "string" && isInt(v.round) && isHex(v.randomness, 32), "malformed beacon value");
  must(isHex(body.commitment_hash, 32) && isHex(body.seed, 32) && isHex(doc.certificate_hash, 32), "hashes: 32 bytes of hex");
  must(isHex(body.commitment_signature) && isHex(doc.signature), "signatures must be hex");
  parsePicks(body.winners, body.commitment.winners, "winners");
  parsePicks(body.alternates, body.commitment.alternates, "alternates");
  must(Array.isArray(doc.substitutions), "substitutions must be a list");
}

// ------------------------------------------------------------------ Merkle (RFC 9162)

const ZERO = new Uint8Array([0]);
const ONE = new Uint8Array([1]);

export async function leafHash(leaf) { return sha256(ZERO, leaf); }

export async function merkleRoot(leafHashes) {
  if (leafHashes.length === 0) return sha256(new Uint8Array(0));
  let level = leafHashes;
  while (level.length > 1) {
    const next = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(sha256(ONE, level[i], level[i + 1]));
    const done = await Promise.all(next);
    if (level.length % 2) done.push(level[level.length - 1]);
    level = done;
  }
  return level[0];
}

export async function verifyInclusion(hash, index, size, path, root) {
  if (index >= size || index < 0) return false;
  let fn = BigInt(index), sn = BigInt(size - 1), r = hash;
  for (const p of path) {
    if (sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      r = await sha256(ONE, p, r);
      if ((fn & 1n) === 0n) while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
    } else {
      r = await sha256(ONE, r, p);
    }
    fn >>= 1n; sn >>= 1n;
  }
  return sn === 0n && equal(r, root);
}

// ------------------------------------------------------------------ DRBG and selection

class Drbg {
  constructor(key) { this.key = key; this.counter = 0n; this.buf = []; }
  static async create(seed) { return new Drbg(await hmacKey(seed)); }
  async next() {
    if (!this.buf.length) {
      const block = await hmac(this.key, utf8("fairlot/drbg/v1"), u64be(this.counter));
      this.counter += 1n;
      const view = new DataView(block.buffer);
      for (let i = 0; i < 4; i++) this.buf.push(view.getBigUint64(8 * i));
    }
    return this.buf.shift();
  }
  async below(n) {
    n = BigInt(n);
    if (n === 1n) return 0n;
    const k = (n - 1n).toString(2).length;
    const mask = (1n << BigInt(k)) - 1n;
    for (;;) {
      const v = (await this.next()) & mask;
      if (v < n) return v;
    }
  }
}

export async function selectPicks(seed, n, winners, alternates, weights) {
  const drbg = await Drbg.create(seed);
  const count = winners + alternates;
  const picks = [];
  if (!weights) {
    const swapped = new Map();
    const at = (i) => (swapped.has(i) ? swapped.get(i) : i);
    for (let i = 0; i < count; i++) {
      const j = i + Number(await drbg.below(n - i));
      const ai = at(i), aj = at(j);
      swapped.set(i, aj); swapped.set(j, ai);
      picks.push(aj);
    }
  } else {
    const w = weights.map(BigInt);
    let total = w.reduce((a, b) => a + b, 0n);
    for (let k = 0; k < count; k++) {
      const r = await drbg.below(total);
      let acc = 0n, i = 0;
      for (; i < w.length; i++) { acc += w[i]; if (acc > r) break; }
      picks.push(i);
      total -= w[i]; w[i] = 0n;
    }
  }
  return { winners: picks.slice(0, winners), alternates: picks.slice(winners) };
}

// ------------------------------------------------------------------ leaves file, receipts

export function decodeLeavesFile(bytes) {
  must(bytes.length >= LEAVES_MAGIC.length && equal(bytes.subarray(0, LEAVES_MAGIC.length), LEAVES_MAGIC), "not a fairlot-leaves/1 file");
  const body = bytes.subarray(LEAVES_MAGIC.length);
  must(body.length % 40 === 0, "length is not a whole number of 40-byte leaves");
  const leaves = [];
  for (let o = 0; o < body.length; o += 40) leaves.push(body.subarray(o, o + 40));
  for (let i = 1; i < leaves.length; i++) must(compareBytes(leaves[i - 1], leaves[i]) <= 0, `leaves are not sorted at ${i}`);
  return leaves;
}

function compareBytes(a, b) {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

function leafWeight(leaf) { return Number(new DataView(leaf.buffer, leaf.byteOffset + 32, 8).getBigUint64(0)); }

export async function receiptLeaf(identity, saltHex, weight) {
  const idCommit = await sha256(unhex(saltHex), utf8(identity));
  return concat(idCommit, u64be(weight));
}

// ------------------------------------------------------------------ the checks

/**
 * Verify a certificate. Inputs are the files' bytes (Uint8Array) or text; optional
 * leaves file, receipt and previous certificate. Returns {checks, trust, certificateHash,
 * keyFingerprint, currentWinners, ok, firstFailure}.
 */
export async function verifyCertificate(certText, { leaves = null, receipt = null, previous = null } = {}) {
  const checks = [];
  const add = (name, status, detail) => checks.push({ name, status, detail });
  const report = (extra = {}) => {
    const ok = checks.every((c) => c.status !== "fail");
    return { checks, ok, firstFailure: checks.find((c) => c.status === "fail")?.name ?? null, trust: "unknown", ...extra };
  };
  let doc;
  try {
    doc = strictParse(typeof certText === "string" ? certText : new TextDecoder("utf-8", { fatal: true }).decode(certText));
    parseCertificate(doc);
  } catch (err) {
    add("format", "fail", `unreadable certificate: ${err.message}`);
    return report();
  }
  add("format", "pass", "fairlot certificate v1");
  const body = doc.body, c = body.commitment;

  const rulesHash = hex(await sha256(canonicalBytes(body.rules)));
  add("rules", rulesHash === c.rules_hash ? "pass" : "fail",
    rulesHash === c.rules_hash ? "rules hash to the committed rules_hash" : "the rules in the certificate do not hash to the committed rules_hash");

  const cHashBytes = await sha256(canonicalBytes(c));
  const cHash = hex(cHashBytes);
  add("commitment", cHash === body.commitment_hash ? "pass" : "fail",
    cHash === body.commitment_hash ? `commitment hash ${cHash}` : `commitment hashes to ${cHash}, certificate says ${body.commitment_hash}`);

  const hostKey = unhex(c.host_key);
  const fingerprint = (await sha256(hostKey)).subarray(0, 16);
  const fp = hex(fingerprint).match(/.{4}/g).join(":");
  const edOk = await ed25519Supported();
  if (!edOk) add("commitment_signature", "skip", "this browser has no Ed25519 in Web Crypto: run fairlot verify");
  else {
    const ok = await ed25519Verify(hostKey, "fairlot/commitment/v1", cHashBytes, unhex(body.commitment_signature));
    add("commitment_signature", ok ? "pass" : "fail", ok ? `Ed25519 by key ${fp}` : "commitment signature does not verify under host_key");
  }

  await chainLink(add, c, previous, edOk);

  // beacon
  const spec = c.beacon, value = body.beacon_value;
  let randomness = unhex(value.randomness);
  const ready = readyAtMs(spec);
  if (ready <= c.close_time_ms) {
    const what = spec.kind === "drand" ? "round" : "reveal time";
    add("beacon", "fail", `the beacon ${what} (${ready} ms) must come after the close time (${c.close_time_ms} ms)`);
  } else if (value.kind !== spec.kind) {
    add("beacon", "fail", `beacon kind ${JSON.stringify(value.kind)} but the commitment pins ${JSON.stringify(spec.kind)}`);
  } else if (value.round !== spec.round) {
    add("beacon", "fail", `beacon value is round ${value.round}, the commitment pins ${spec.round}`);
  } else if (spec.kind === "drand") {
    if (!isHex(value.signature, 48)) add("beacon", "fail", "drand signature: 48 bytes of hex");
    else {
      const r = await sha256(unhex(value.signature));
      if (!equal(r, randomness)) add("beacon", "fail", "stated randomness differs from the verified one");
      else {
        randomness = r;
        add("beacon", "cli", `drand quicknet round ${spec.round}: round, timing and randomness = SHA-256(signature) checked here; the BLS signature is checked by the CLI (fairlot verify)`);
      }
    }
  } else {
    const reveal = isHex(value.reveal, 32) ? unhex(value.reveal) : null;
    const commit = reveal && hex(await sha256(utf8("fairlot/reveal-commit/v1"), reveal));
    if (!reveal || commit !== spec.reveal_commitment) add("beacon", "fail", "the reveal does not match the committed hash");
    else {
      const r = await sha256(utf8("fairlot/reveal-random/v1"), reveal);
      if (!equal(r, randomness)) add("beacon", "fail", "stated randomness differs from the verified one");
      else { randomness = r; add("beacon", "pass", "commit-reveal: the reveal matches the committed hash"); }
    }
  }

  const seed = await sha256(utf8("fairlot/seed/v1"), cHashBytes, randomness);
  add("seed", hex(seed) === body.seed ? "pass" : "fail",
    hex(seed) === body.seed ? `seed ${hex(seed)}` : `seed recomputes to ${hex(seed)}, certificate says ${body.seed}`);

  // root
  const root = unhex(c.merkle_root);
  let leafList = null;
  if (leaves === null) add("root", "skip", "give the public leaves file to recompute the root");
  else {
    try {
      const list = decodeLeavesFile(leaves);
      const weights = list.map(leafWeight);
      const total = weights.reduce((a, b) => a + b, 0);
      const computed = await merkleRoot(await Promise.all(list.map(leafHash)));
      if (list.length !== c.n) add("root", "fail", `${list.length} leaves, the commitment says ${c.n}`);
      else if (total !== c.total_weight) add("root", "fail", `leaf weights sum to ${total}, committed ${c.total_weight}`);
      else if (!c.weighted && weights.some((w) => w !== 1)) add("root", "fail", "an unweighted draw has every weight 1");
      else if (!equal(computed, root)) add("root", "fail", `leaves hash to ${hex(computed)}, committed ${c.merkle_root}`);
      else { add("root", "pass", `${c.n} leaves hash to the committed root`); leafList = list; }
    } catch (err) { add("root", "fail", `leaves file: ${err.message}`); }
  }

  let expected = null;
  if (!c.weighted) expected = await selectPicks(seed, c.n, c.winners, c.alternates, null);
  else if (leafList) expected = await selectPicks(seed, c.n, c.winners, c.alternates, leafList.map(leafWeight));
  await checkPicks(add, "winners", body.winners, expected && expected.winners, c, root, leafList);
  await checkPicks(add, "alternates", body.alternates, expected && expected.alternates, c, root, leafList);

  // substitutions
  const certHashBytes = await sha256(canonicalBytes(body));
  const winners = body.winners.map((p) => p.index);
  const alternates = body.alternates.map((p) => p.index);
  const problem = edOk ? await checkSubstitutions(certHashBytes, winners, alternates, doc.substitutions, hostKey) : "no Ed25519 in this browser";
  const current = problem === null ? replay(winners, doc.substitutions) : winners.slice();
  add("substitutions", problem === null ? "pass" : edOk ? "fail" : "skip",
    problem ?? `${doc.substitutions.length} signed, linked, each using the next alternate`);

  if (!edOk) add("certificate_signature", hex(certHashBytes) === doc.certificate_hash ? "skip" : "fail", "certificate hash recomputed; Ed25519 needs fairlot verify here");
  else {
    const ok = hex(certHashBytes) === doc.certificate_hash
      && await ed25519Verify(hostKey, "fairlot/certificate/v1", certHashBytes, unhex(doc.signature));
    add("certificate_signature", ok ? "pass" : "fail", ok ? `certificate hash ${hex(certHashBytes)}` : "certificate hash or signature does not match the body");
  }

  if (receipt !== null) await checkReceipt(add, c, root, receipt, current);
  return report({
    trust: spec.kind === "drand" ? TRUST_PUBLIC : TRUST_WEAK,
    certificateHash: hex(certHashBytes),
    keyFingerprint: fp,
    currentWinners: current,
    document: doc,
  });
}

async function chainLink(add, c, previous, edOk) {
  const stated = `host ${c.host_id} seq ${c.host_seq}`;
  if (previous === null) {
    if (c.host_seq === 1) add("chain_link", "pass", `${stated}: first certificate of this host`);
    else add("chain_link", "skip", `${stated} links to ${c.prev_cert_hash}; give the previous certificate to check`);
    return;
  }
  let prev;
  try {
    prev = strictParse(typeof previous === "string" ? previous : new TextDecoder().decode(previous));
    parseCertificate(prev);
  } catch (err) { add("chain_link", "fail", `previous certificate unreadable: ${err.message}`); return; }
  const pc = prev.body.commitment;
  const prevDigest = await sha256(canonicalBytes(prev.body));
  const problems = [];
  if (c.prev_cert_hash !== hex(prevDigest)) problems.push("prev_cert_hash is not the previous certificate's hash");
  if (pc.host_key !== c.host_key || pc.host_id !== c.host_id) problems.push("previous certificate is from another host or key");
  if (pc.host_seq + 1 !== c.host_seq) problems.push(`host_seq ${c.host_seq} does not follow ${pc.host_seq}`);
  if (edOk && !(await ed25519Verify(unhex(pc.host_key), "fairlot/certificate/v1", prevDigest, unhex(prev.signature)))) problems.push("previous certificate's signature does not verify");
  add("chain_link", problems.length ? "fail" : "pass", problems.join("; ") || `${stated} follows the previous`);
}

async function checkPicks(add, name, stated, expected, c, root, leafList) {
  for (const p of stated) {
    const leaf = unhex(p.leaf);
    const ok = await verifyInclusion(await leafHash(leaf), p.index, c.n, p.audit_path.map(unhex), root);
    if (!ok) { add(name, "fail", `position ${p.position}: leaf not at index ${p.index}`); return; }
    if (leafList && !equal(leafList[p.index], leaf)) { add(name, "fail", `position ${p.position}: leaf differs from the leaves file`); return; }
  }
  const idx = stated.map((p) => p.index);
  if (expected === null) add(name, "skip", "leaves proven under the root; weighted selection not recomputed (needs the public leaves file)");
  else if (JSON.stringify(idx) !== JSON.stringify(expected)) add(name, "fail", `stated [${idx.join(", ")}], recomputed [${expected.join(", ")}]`);
  else add(name, "pass", `${expected.length} recomputed from the seed and proven under the root`);
}

function replay(winners, events) {
  const current = winners.slice();
  for (const item of events) current[item.event.position] = item.event.alternate_index;
  return current;
}

async function checkSubstitutions(certHash, winners, alternates, events, hostKey) {
  let prev = certHash;
  const current = winners.slice();
  for (let k = 0; k < events.length; k++) {
    const item = events[k];
    const ev = item && item.event;
    if (!ev || typeof ev !== "object" || !isHex(item.signature)) return `event ${k + 1}: malformed`;
    const position = ev.position;
    if (!isInt(position) || position < 0 || position >= current.length) return `event ${k + 1}: no winner slot ${JSON.stringify(position)}`;
    const expected = {
      type: "fairlot/substitution", seq: k + 1, certificate_hash: hex(certHash), prev: hex(prev), position,
      reason: ev.reason, replaced_index: current[position], alternate_position: k,
      alternate_index: k < alternates.length ? alternates[k] : null, time_ms: ev.time_ms,
    };
    for (const key of Object.keys(expected)) if (ev[key] !== expected[key]) return `event ${k + 1}: ${key} is ${JSON.stringify(ev[key])}, expected ${JSON.stringify(expected[key])}`;
    if (!sameKeys(ev, Object.keys(expected))) return `event ${k + 1}: unexpected keys`;
    if (typeof ev.reason !== "string" || !/^[a-z][a-z0-9_]{0,31}$/.test(ev.reason)) return `event ${k + 1}: bad reason code`;
    if (!isInt(ev.time_ms)) return `event ${k + 1}: bad time`;
    const digest = await sha256(canonicalBytes(ev));
    if (!(await ed25519Verify(hostKey, "fairlot/substitution/v1", digest, unhex(item.signature)))) return `event ${k + 1}: signature does not verify`;
    current[position] = ev.alternate_index;
    prev = digest;
  }
  return null;
}

async function checkReceipt(add, c, root, receipt, current) {
  let r;
  try {
    r = typeof receipt === "string" ? strictParse(receipt) : receipt instanceof Uint8Array ? strictParse(new TextDecoder().decode(receipt)) : receipt;
    must(r && r.type === "fairlot/receipt", "not a fairlot receipt");
    must(typeof r.identity === "string" && isHex(r.salt, 32) && isInt(r.weight) && isInt(r.index) && isInt(r.size), "receipt fields");
    must(Array.isArray(r.audit_path) && r.audit_path.every((h) => isHex(h, 32)), "receipt audit path");
  } catch (err) { add("receipt", "fail", `unreadable receipt: ${err.message}`); return; }
  if (r.draw_id !== c.draw_id || r.merkle_root !== c.merkle_root) { add("receipt", "fail", "receipt is for another draw or root"); return; }
  const leaf = await receiptLeaf(r.identity, r.salt, r.weight);
  const ok = r.size === c.n && await verifyInclusion(await leafHash(leaf), r.index, c.n, r.audit_path.map(unhex), root);
  if (!ok) { add("receipt", "fail", `${r.identity}: not included at index ${r.index}`); return; }
  const pos = current.indexOf(r.index);
  add("receipt", "pass", `${r.identity} is leaf ${r.index} (${pos >= 0 ? `winner at position ${pos}` : "not a winner"})`);
}

/** Mask a handle as certificates do (docs/fairness.md section 9). */
export function maskHandle(handle) {
  const c = [...handle];
  if (c.length <= 2) return c[0] + "*";
  if (c.length <= 5) return c[0] + "*".repeat(c.length - 2) + c[c.length - 1];
  return c[0] + c[1] + "*".repeat(c.length - 3) + c[c.length - 1];
}
