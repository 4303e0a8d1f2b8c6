/* InsuTrace outbox: what a page records is kept in localStorage, each item with its own
   idempotency key, and sent when the network is there; a resend of an item the server
   already logged returns the first result, so nothing is written twice.

   Two kinds of item: one the server signs when it is sent (the body as recorded), and one
   signed on this device as it is recorded (``sign``, set by the page: the body becomes the
   signed statements and the URL the one that takes them; ``prepareSigned`` completes it
   before each send). A signed statement sent again is the same bytes: logged once. */
"use strict";
window.InsuQueue = (function () {
  var STORE = "insutrace-outbox";
  var listeners = [];
  var sending = false;

  function load() {
    try { return JSON.parse(localStorage.getItem(STORE) || "[]"); } catch (e) { return []; }
  }
  function save(items) { localStorage.setItem(STORE, JSON.stringify(items)); }
  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function emit(event) { listeners.forEach(function (fn) { fn(event || {}); }); }
  function update(key, changes) {
    save(load().map(function (item) { return item.key === key ? Object.assign(item, changes) : item; }));
  }

  var api = {
    csrf: "",
    prepare: null, /* async (body) => body, run before each send of a server-signed item */
    sign: null, /* async (url, body) => {url, body} signed here, or null: the server signs */
    prepareSigned: null, /* async (body) => body, run before each send of a signed item */
    items: load,
    pending: function () { return load().filter(function (i) { return i.state === "pending"; }).length; },
    on: function (fn) { listeners.push(fn); },
    add: function (url, body, label) {
      var key = newKey();
      var item = { key: key, url: url, label: label, created: new Date().toISOString(),
                   state: "pending", body: Object.assign({}, body, { key: key }) };
      function queue() {
        var items = load();
        items.push(item);
        save(items);
        emit({ key: key, state: "queued" });
        api.flush();
      }
      if (!api.sign) { queue(); return key; }
      Promise.resolve(api.sign(url, item.body)).then(function (signed) {
        if (signed) Object.assign(item, { url: signed.url, body: signed.body, signed: true });
        queue();
      }, function (e) {
        emit({ key: key, state: "refused", label: label,
               data: { detail: "本机签名失败，未保存 Not signed on this phone, not kept: " + e } });
      });
      return key;
    },
    discard: function (key) {
      save(load().filter(function (i) { return i.key !== key; }));
      emit({ key: key, state: "discarded" });
    },
    flush: async function () {
      if (sending) return;
      sending = true;
      try {
        var items = load();
        for (var n = 0; n < items.length; n++) {
          var item = items[n];
          if (item.state !== "pending") continue;
          if (navigator.onLine === false) { emit({ key: item.key, state: "offline" }); break; }
          if (item.signed && !api.prepareSigned) break; /* the page's signing is not loaded yet */
          var response;
          try {
            var ready = item.signed ? api.prepareSigned : api.prepare;
            var body = ready ? await ready(item.body) : item.body;
            update(item.key, { body: body });
            response = await fetch(item.url, {
              method: "POST", credentials: "same-origin",
              headers: { "Content-Type": "application/json", "X-CSRF-Token": api.csrf,
                         "Idempotency-Key": item.key },
              body: JSON.stringify(body)
            });
          } catch (e) {
            emit({ key: item.key, state: "offline" });
            break; /* no network: keep it and everything after it */
          }
          var data = {};
          try { data = await response.json(); } catch (e) { data = {}; }
          if (response.ok) {
            save(load().filter(function (i) { return i.key !== item.key; }));
            emit({ key: item.key, state: "sent", data: data, label: item.label });
          } else if (response.status >= 500 || response.status === 401) {
            emit({ key: item.key, state: response.status === 401 ? "signin" : "offline" });
            break; /* the server is struggling, or the sign-in ended: keep it, try again later */
          } else {
            update(item.key, { state: "refused", detail: data.detail || "", fields: data.fields || {} });
            emit({ key: item.key, state: "refused", data: data, label: item.label });
          }
        }
      } finally {
        sending = false;
        emit({});
      }
    }
  };
  window.addEventListener("online", function () { api.flush(); });
  setInterval(function () { api.flush(); }, 10000);
  return api;
})();
