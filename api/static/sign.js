/* InsuTrace signing on this device: a person's Ed25519 key made by WebCrypto, not
   extractable, kept in IndexedDB (one per person signed in on this browser), and v 2
   statements signed with it — RFC 8785 canonical JSON, the signature over the canonical
   bytes of every member but "sig", the key id as the ledger computes it (the first 16 hex
   digits of SHA-256 of the raw public key). The time signed is the ledger's clock as this
   device last learned it (its offset from the device's own clock, kept between visits). */
"use strict";
window.InsuSign = (function () {
  var DB = "insutrace-keys";
  var STORE = "keys";
  var OFFSET = "insutrace-clock-offset";

  /* -- RFC 8785 -------------------------------------------------------------------------- */
  /* Object members sorted by their names' UTF-16 code units (what Array.prototype.sort
     compares), strings and numbers as ECMAScript's JSON.stringify writes them (RFC 8785
     §3.2.2 adopts exactly that serialization), no whitespace. */
  function canonical(value) {
    if (value === null || typeof value === "boolean" || typeof value === "string") return JSON.stringify(value);
    if (typeof value === "number") {
      if (!isFinite(value)) throw new Error("RFC 8785: a number must be finite");
      return JSON.stringify(value);
    }
    if (Array.isArray(value)) return "[" + value.map(canonical).join(",") + "]";
    if (typeof value === "object") {
      var names = Object.keys(value).filter(function (k) { return value[k] !== undefined; }).sort();
      return "{" + names.map(function (k) { return JSON.stringify(k) + ":" + canonical(value[k]); }).join(",") + "}";
    }
    throw new Error("RFC 8785: cannot encode " + typeof value);
  }
  function utf8(text) { return new TextEncoder().encode(text); }
  function b64(bytes) {
    var s = "";
    new Uint8Array(bytes).forEach(function (b) { s += String.fromCharCode(b); });
    return btoa(s);
  }
  function hex(bytes) {
    return Array.prototype.map.call(new Uint8Array(bytes), function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  async function keyId(raw) { return hex(await crypto.subtle.digest("SHA-256", raw)).slice(0, 16); }

  /* -- can this browser sign? ------------------------------------------------------------ */
  var support = null;
  function supported() {
    if (support) return support;
    support = (async function () {
      if (!window.isSecureContext) return { ok: false, why: "insecure" };
      if (!window.crypto || !crypto.subtle || !window.indexedDB) return { ok: false, why: "webcrypto" };
      try {
        /* a fixed public key: importing it asks whether Ed25519 exists, making no key */
        await crypto.subtle.importKey("raw", new Uint8Array(32).fill(7), { name: "Ed25519" }, true, ["verify"]);
        return { ok: true };
      } catch (e) { return { ok: false, why: "ed25519" }; }
    })();
    return support;
  }

  /* -- the key in IndexedDB -------------------------------------------------------------- */
  function db() {
    return new Promise(function (ok, fail) {
      var req = indexedDB.open(DB, 1);
      req.onupgradeneeded = function () { req.result.createObjectStore(STORE); };
      req.onsuccess = function () { ok(req.result); };
      req.onerror = function () { fail(req.error); };
    });
  }
  async function idb(mode, fn) {
    var conn = await db();
    try {
      return await new Promise(function (ok, fail) {
        var tx = conn.transaction(STORE, mode);
        var req = fn(tx.objectStore(STORE));
        tx.oncomplete = function () { ok(req && req.result); };
        tx.onerror = function () { fail(tx.error); };
      });
    } finally { conn.close(); }
  }
  function slot(person) { return "device:" + person; }
  async function load(person) { return (await idb("readonly", function (s) { return s.get(slot(person)); })) || null; }

  /* A new key for ``person``, replacing any earlier one on this browser (not extractable:
     the private half never leaves WebCrypto). Returns {kid, public}. */
  async function generate(person) {
    var pair = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
    var raw = await crypto.subtle.exportKey("raw", pair.publicKey);
    var record = { person: person, kid: await keyId(raw), public: b64(raw), privateKey: pair.privateKey,
                   created: new Date().toISOString() };
    await idb("readwrite", function (s) { return s.put(record, slot(person)); });
    return { kid: record.kid, public: record.public };
  }
  async function forget(person) { await idb("readwrite", function (s) { return s.delete(slot(person)); }); }

  /* -- the ledger's time ----------------------------------------------------------------- */
  function offset() { return Number(localStorage.getItem(OFFSET) || "0"); }
  /* Learn the ledger's clock from GET /v1/head (its "time"), halfway through the request. */
  async function syncClock() {
    var sent = Date.now();
    var r = await fetch("/v1/head", { cache: "no-store", credentials: "omit" });
    if (!r.ok) throw new Error("HTTP " + r.status);
    var head = await r.json();
    var back = Date.now();
    localStorage.setItem(OFFSET, String(Date.parse(head.time) - Math.round((sent + back) / 2)));
  }
  function now() { return new Date(Date.now() + offset()); }
  /* The calendar date in China Standard Time (UTC+8, no daylight saving) of a moment. */
  function chinaDate(moment) { return new Date(moment.getTime() + 8 * 3600 * 1000).toISOString().slice(0, 10); }

  function statementId() {
    return hex(crypto.getRandomValues(new Uint8Array(16)));
  }

  /* Sign a v 2 statement of ``type`` for ``actor`` with ``person``'s key on this browser,
     at ``time`` (default: now on the ledger's clock). Returns its canonical text. */
  async function sign(person, actor, type, payload, time) {
    var key = await load(person);
    if (!key) throw new Error("no key on this device for " + person);
    var statement = { v: 2, id: statementId(), type: type, actor: actor, key: key.kid,
                      time: (time || now()).toISOString(), payload: payload };
    var signature = await crypto.subtle.sign({ name: "Ed25519" }, key.privateKey, utf8(canonical(statement)));
    statement.sig = b64(signature);
    return canonical(statement);
  }

  return { canonical: canonical, supported: supported, load: load, generate: generate, forget: forget,
           sign: sign, now: now, chinaDate: chinaDate, syncClock: syncClock, keyId: keyId };
})();
