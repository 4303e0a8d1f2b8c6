/* The delivery session: scan labels one after another (BarcodeDetector where the browser has
   it, else the bundled jsQR), show each verdict as it comes (the label page's JSON), and
   record the scans with the arrival inspection in one go through the outbox (queue.js). */
"use strict";
(function () {
  var root = document.getElementById("delivery");
  if (!root) return;
  var Q = window.InsuQueue;
  Q.csrf = root.dataset.csrf;
  var verdicts = JSON.parse(root.dataset.verdicts);
  var scans = [];
  var current = null; /* the outbox key of the delivery just recorded on this page */
  var $ = function (id) { return document.getElementById(id); };

  function errorAt(field, text) {
    var el = root.querySelector('[data-error-for="' + field + '"]');
    if (!el) el = root.querySelector('[data-error-for=""]');
    el.textContent = text;
    el.hidden = !text;
  }
  function clearErrors() {
    root.querySelectorAll("[data-error-for]").forEach(function (el) {
      el.textContent = "";
      if (el.classList.contains("notice")) el.hidden = true;
    });
  }

  function localPath(text) {
    try {
      var url = new URL(String(text).trim(), location.origin);
      if (url.pathname.indexOf("/01/") !== 0 || url.pathname.indexOf("/21/") < 0) return null;
      return url.pathname + url.search;
    } catch (e) { return null; }
  }
  async function verdictOf(path) {
    var r = await fetch(path, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!r.ok) throw new Error("HTTP " + r.status);
    return r.json();
  }
  function shown(item) {
    if (!item.verdict) return { zh: "待核验（离线）", en: "to be checked (offline)", tone: "warn" };
    if (item.verdict === "genuine" && item.alert) return verdicts["alert:" + item.alert];
    return verdicts[item.verdict];
  }
  function renderScans() {
    var list = $("scans");
    list.innerHTML = "";
    scans.forEach(function (item) {
      var v = shown(item);
      var li = document.createElement("li");
      li.dataset.verdict = item.verdict || "pending";
      li.dataset.serial = item.serial;
      var pill = document.createElement("span");
      pill.className = "pill " + v.tone;
      pill.textContent = v.zh;
      li.appendChild(pill);
      li.appendChild(document.createTextNode(" " + item.serial + " "));
      var en = document.createElement("span");
      en.className = "en";
      en.textContent = v.en;
      li.appendChild(en);
      list.appendChild(li);
    });
  }

  async function addLabel(text) {
    errorAt("scans", "");
    var path = localPath(text);
    if (!path) { errorAt("scans", "这不是标签链接 This is not a label link"); return; }
    if (scans.some(function (s) { return s.link === path; })) { errorAt("scans", "已扫过该标签 Already scanned"); return; }
    var serial = decodeURIComponent(path.split("/21/")[1].split("?")[0]);
    var item = { link: path, serial: serial, verdict: null, alert: null };
    scans.push(item);
    renderScans();
    try {
      var record = await verdictOf(path);
      item.verdict = record.verdict;
      item.alert = record.alerts && record.alerts.length ? record.alerts[0].kind : null;
    } catch (e) { item.verdict = null; }
    renderScans();
  }

  /* verdicts of scans made offline are asked for when the network returns, before sending */
  Q.prepare = async function (body) {
    var scanned = [];
    for (var i = 0; i < (body.scans || []).length; i++) {
      var s = body.scans[i];
      if (!s.verdict) s = Object.assign({}, s, { verdict: (await verdictOf(s.link)).verdict });
      scanned.push(s);
    }
    return Object.assign({}, body, { scans: scanned });
  };

  $("add-link").addEventListener("click", function () {
    addLabel($("manual-link").value);
    $("manual-link").value = "";
  });
  $("manual-link").addEventListener("keydown", function (e) {
    if (e.key === "Enter") { e.preventDefault(); $("add-link").click(); }
  });
  $("batch").addEventListener("change", function () {
    var option = this.selectedOptions[0];
    if (option && option.dataset.class && !$("label_class").value) $("label_class").value = option.dataset.class;
  });

  /* -- the camera ------------------------------------------------------------------------ */
  function loadScript(src) {
    return new Promise(function (ok, fail) {
      var s = document.createElement("script");
      s.src = src; s.onload = ok; s.onerror = fail;
      document.head.appendChild(s);
    });
  }
  async function startCamera() {
    var state = $("camera-state");
    var video = $("camera");
    var stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    } catch (e) {
      state.textContent = "无法打开相机，请手动输入标签链接 No camera: type the label link in";
      return;
    }
    video.srcObject = stream;
    video.hidden = false;
    await video.play();
    var detector = null;
    if ("BarcodeDetector" in window) {
      try { detector = new window.BarcodeDetector({ formats: ["qr_code"] }); } catch (e) { detector = null; }
    }
    if (!detector && !window.jsQR) await loadScript(root.dataset.jsqr);
    state.textContent = detector ? "扫码中 scanning (BarcodeDetector)" : "扫码中 scanning (jsQR)";
    root.dataset.decoder = detector ? "BarcodeDetector" : "jsQR";
    var canvas = document.createElement("canvas");
    var ctx = canvas.getContext("2d", { willReadFrequently: true });
    async function tick() {
      if (video.readyState >= 2 && video.videoWidth) {
        var text = null;
        try {
          if (detector) {
            var codes = await detector.detect(video);
            if (codes.length) text = codes[0].rawValue;
          } else {
            canvas.width = video.videoWidth; canvas.height = video.videoHeight;
            ctx.drawImage(video, 0, 0);
            var img = ctx.getImageData(0, 0, canvas.width, canvas.height);
            var code = window.jsQR(img.data, img.width, img.height, { inversionAttempts: "dontInvert" });
            if (code) text = code.data;
          }
        } catch (e) { text = null; }
        if (text) {
          var path = localPath(text);
          if (path && !scans.some(function (s) { return s.link === path; })) addLabel(text);
        }
      }
      setTimeout(tick, 250);
    }
    tick();
  }
  $("start-camera").addEventListener("click", startCamera);

  /* -- recording ------------------------------------------------------------------------- */
  function dataUrl(file) {
    return new Promise(function (ok, fail) {
      var reader = new FileReader();
      reader.onload = function () { ok(reader.result); };
      reader.onerror = fail;
      reader.readAsDataURL(file);
    });
  }
  $("inspection").addEventListener("submit", async function (e) {
    e.preventDefault();
    clearErrors();
    $("done").hidden = true;
    var form = this;
    var inspection = null;
    if (form.batch.value) {
      var photos = [];
      for (var i = 0; i < form.photos.files.length; i++) photos.push(await dataUrl(form.photos.files[i]));
      inspection = { batch: form.batch.value, label_class: form.label_class.value, accepted: form.accepted.checked,
                     counted: form.counted.value, discrepancy: form.discrepancy.value, note: form.note.value,
                     photos: photos };
    }
    if (!scans.length && !inspection) {
      errorAt("", "请先扫码或选择验收批次 Scan a label or choose the batch inspected first");
      return;
    }
    var label = scans.length + " 个标签 labels" + (inspection ? " + 进场验收 inspection" : "");
    var body = { scans: scans.map(function (s) { return { link: s.link, verdict: s.verdict }; }), inspection: inspection };
    current = Q.add(root.dataset.post, body, label);
  });

  function resetForm() {
    scans = [];
    renderScans();
    $("inspection").reset();
  }
  function renderOutbox(event) {
    var n = Q.pending();
    $("pending").hidden = n === 0;
    $("pending").textContent = "待发送 " + n + " 条 pending";
    var online = navigator.onLine !== false && event.state !== "offline";
    $("net").className = "pill " + (online ? "ok" : "warn");
    $("net").textContent = online ? "在线 online" : "离线 offline";
    var list = $("outbox");
    Q.items().forEach(function (item) {
      var li = list.querySelector('[data-key="' + item.key + '"]') || document.createElement("li");
      li.dataset.key = item.key;
      li.dataset.state = item.state;
      li.textContent = "";
      if (item.state === "pending") {
        li.textContent = "待发送 pending · " + item.label;
      } else {
        var messages = Object.values(item.fields || {}).join("；");
        li.textContent = "未能记录 refused · " + item.label + " · " + (messages || item.detail);
        var discard = document.createElement("button");
        discard.type = "button"; discard.className = "secondary"; discard.textContent = "删除 Discard";
        discard.addEventListener("click", function () { Q.discard(item.key); li.remove(); });
        li.appendChild(document.createTextNode(" "));
        li.appendChild(discard);
      }
      list.appendChild(li);
    });
    if (event.state === "sent") {
      var li = list.querySelector('[data-key="' + event.key + '"]') || document.createElement("li");
      li.dataset.key = event.key;
      li.dataset.state = "sent";
      li.textContent = "已记录 recorded · " + event.label + " · 条目 entries #" + event.data.seqs.join(", #");
      list.appendChild(li);
    }
  }
  Q.on(function (event) {
    renderOutbox(event);
    if (!event.key || event.key !== current) return;
    if (event.state === "sent") {
      resetForm();
      $("done").hidden = false;
      $("done").textContent = "已记录，条目 #" + event.data.seqs.join(", #") + " Recorded as entries #" + event.data.seqs.join(", #");
      current = null;
    } else if (event.state === "offline" || event.state === "signin") {
      resetForm();
      $("done").hidden = false;
      $("done").textContent = event.state === "signin"
        ? "已保存在本机，请重新登录，登录后自动发送 Saved on this phone: sign in again and it is sent"
        : "已保存在本机，联网后自动发送 Saved on this phone: sent when the network returns";
      current = null;
    } else if (event.state === "refused") {
      Q.discard(event.key); /* nothing was written: correct the form and record again */
      var gone = $("outbox").querySelector('[data-key="' + event.key + '"]');
      if (gone) gone.remove();
      var fields = (event.data && event.data.fields) || {};
      var any = false;
      Object.keys(fields).forEach(function (field) { errorAt(field, fields[field]); any = true; });
      if (!any) errorAt("", (event.data && event.data.detail) || "未能记录 Not recorded");
      current = null;
    }
  });
  window.addEventListener("offline", function () { renderOutbox({ state: "offline" }); });
  window.addEventListener("online", function () { renderOutbox({}); });
  renderOutbox({});
  Q.flush();
})();
