/* The delivery session signed on this phone (sign.js): which mode the page is in, enrolling
   the phone's key, and the outbox's hooks that sign each record as the supervisor records
   it — the arrival inspection at once, a scan as soon as its verdict is on the phone
   (scanned offline: when the network returns and the verdict is fetched). Without a key the
   log holds valid for this person, or without WebCrypto Ed25519 or a secure context, the
   outbox keeps what is recorded and the server signs it when it is sent. */
"use strict";
(function () {
  var root = document.getElementById("delivery");
  if (!root || !window.InsuSign || !window.InsuQueue) return;
  var S = window.InsuSign;
  var Q = window.InsuQueue;
  var signing = JSON.parse(root.dataset.signing);
  var project = root.dataset.project;
  var $ = function (id) { return document.getElementById(id); };
  var MODES = {
    device: ["本机签名：每条记录在记录时即以您的设备密钥签名，离线也可", "Signed on this phone: each record is signed with your device key as you record it, also offline"],
    none: ["服务器代签：本机尚未登记密钥，记录在发送时由单位密钥签名", "Signed by the server: this phone has no enrolled key, records are signed with the organisation's key when sent"],
    revoked: ["服务器代签：本机密钥已吊销，请重新登记", "Signed by the server: this phone's key was revoked, enrol it again"],
    insecure: ["服务器代签：此连接不是安全连接（非 HTTPS），本机不能签名", "Signed by the server: this connection is not secure (plain http), so the phone cannot sign"],
    webcrypto: ["服务器代签：此浏览器不支持本机签名", "Signed by the server: this browser cannot sign"],
    ed25519: ["服务器代签：此浏览器不支持 Ed25519 签名", "Signed by the server: this browser has no Ed25519 signing"]
  };

  function show(mode, kid) {
    var el = $("sign-mode");
    var text = MODES[mode];
    el.dataset.mode = mode === "device" ? "device" : "server";
    el.dataset.why = mode;
    el.className = "pill " + (mode === "device" ? "ok" : "warn");
    el.textContent = text[0] + (kid ? " · 密钥 " + kid : "");
    $("sign-mode-en").textContent = text[1] + (kid ? " · key " + kid : "");
    var canEnrol = mode === "none" || mode === "revoked";
    $("enrol-form").hidden = !canEnrol;
  }

  /* -- payloads, as the server builds them for the same delivery ------------------------- */
  function scanPayload(link, verdict, label) {
    var url = new URL(link, location.origin);
    var parts = url.pathname.split("/");
    var at = function (ai) { var i = parts.indexOf(ai); return i > 0 ? decodeURIComponent(parts[i + 1]) : ""; };
    var gtin = label ? label.gtin : at("01");
    while (gtin.length < 14) gtin = "0" + gtin;
    var payload = { schema: 1, project: project, gtin: gtin, lot: label ? label.lot : at("10"),
                    serial: label ? label.serial : at("21"), verdict: verdict, by: signing.name };
    var k = url.searchParams.get("k"), s = url.searchParams.get("s");
    if (k !== null && s !== null) { payload.key = k; payload.sig = s; }
    return payload;
  }
  async function sha256Hex(dataUrl) {
    var bytes = Uint8Array.from(atob(dataUrl.split(",")[1]), function (c) { return c.charCodeAt(0); });
    var digest = await crypto.subtle.digest("SHA-256", bytes);
    return Array.prototype.map.call(new Uint8Array(digest), function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  async function inspectionPayload(form, when) {
    var payload = { schema: 1, project: project, batch: form.batch, date: S.chinaDate(when),
                    label_class: form.label_class, accepted: form.accepted === true };
    ["counted", "discrepancy", "note"].forEach(function (name) {
      var value = form[name];
      if (typeof value === "string" && value.trim()) payload[name] = value.trim();
    });
    if (form.photos && form.photos.length) {
      payload.photos = [];
      for (var i = 0; i < form.photos.length; i++) payload.photos.push(await sha256Hex(form.photos[i]));
    }
    return payload;
  }
  function signOne(type, payload, when) { return S.sign(signing.person, signing.org, type, payload, when); }

  /* the outbox signs a delivery the moment it is recorded */
  async function signDelivery(url, body) {
    var when = S.now();
    var scans = [], unsigned = [];
    for (var i = 0; i < (body.scans || []).length; i++) {
      var scan = body.scans[i];
      if (scan.verdict) scans.push(await signOne("label.scan", scanPayload(scan.link, scan.verdict), when));
      else unsigned.push({ link: scan.link });
    }
    var inspection = null, photos = [];
    if (body.inspection) {
      inspection = await signOne("site.inspect", await inspectionPayload(body.inspection, when), when);
      photos = body.inspection.photos || [];
    }
    return { url: signing.post, body: { key: body.key, scans: scans, unsigned: unsigned,
                                        inspection: inspection, photos: photos,
                                        statements: scans.concat(inspection ? [inspection] : []) } };
  }
  /* before each send: a scan recorded without its verdict is signed once the verdict is here */
  async function prepareSigned(body) {
    var scans = body.scans.slice();
    for (var i = 0; i < body.unsigned.length; i++) {
      var link = body.unsigned[i].link;
      var r = await fetch(link, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!r.ok) throw new Error("HTTP " + r.status);
      var record = await r.json();
      scans.push(await signOne("label.scan", scanPayload(link, record.verdict, record.label)));
    }
    return Object.assign({}, body, { scans: scans, unsigned: [],
                                     statements: scans.concat(body.inspection ? [body.inspection] : []) });
  }

  /* -- the receipts: who signed each entry, as the server's read model says --------------- */
  function annotate() { /* what waits in the outbox says it is signed already */
    Q.items().forEach(function (item) {
      var li = $("outbox").querySelector('[data-key="' + item.key + '"]');
      if (!li || !item.signed || item.state !== "pending" || li.textContent.indexOf("本机已签名") >= 0) return;
      li.dataset.signed = "device";
      li.appendChild(document.createTextNode(" · 本机已签名 signed on this phone"));
    });
  }
  Q.on(annotate);
  Q.on(function (event) {
    if (event.state !== "sent" || !event.data || !event.data.signed) return;
    var first = event.data.signed[0] || {};
    var who = first.signed === "device"
      ? " · 本机签名 signed on this phone · " + first.name + " · 密钥 key " + first.key
      : "";
    var li = $("outbox").querySelector('[data-key="' + event.key + '"]');
    if (li) { li.dataset.signed = first.signed || ""; li.textContent += who; }
    if ($("done").textContent.indexOf("#" + event.data.seqs[0]) >= 0) $("done").textContent += who;
  });

  /* -- enrolling this phone's key -------------------------------------------------------- */
  async function enrol(e) {
    e.preventDefault();
    var error = $("enrol-error");
    error.textContent = "";
    var device = $("device-name").value.trim();
    if (!device) { error.textContent = "请填写设备名称 Name this device"; return; }
    try {
      var key = await S.generate(signing.person);
      var r = await fetch(signing.enrol, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": root.dataset.csrf },
        body: JSON.stringify({ public_key: key.public, device: device })
      });
      var data = await r.json();
      if (!r.ok) {
        await S.forget(signing.person);
        error.textContent = Object.values(data.fields || {}).join("；") || data.detail || "未能登记 Not enrolled";
        return;
      }
      signing.keys.push(data.key);
      S.syncClock().catch(function () {});
      if (window.InsuOffline) window.InsuOffline.keep(); /* the offline copy names the key */
      await decide();
    } catch (err) {
      error.textContent = "未能登记（无网络？）Not enrolled (no network?)";
    }
  }

  async function decide() {
    var support = await S.supported();
    Q.sign = null;
    Q.prepareSigned = prepareSigned;
    if (!support.ok) { show(support.why); return; }
    var key = signing.person ? await S.load(signing.person) : null;
    if (!key) { show("none"); return; }
    if (signing.keys.indexOf(key.kid) < 0) { show("revoked", key.kid); return; }
    Q.sign = signDelivery;
    show("device", key.kid);
  }

  annotate();
  $("enrol-form").addEventListener("submit", enrol);
  if (navigator.onLine !== false) S.syncClock().catch(function () {});
  window.addEventListener("online", function () { S.syncClock().catch(function () {}); });
  decide();
})();
