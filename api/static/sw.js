/* InsuTrace service worker: the site pages (/site, a project, its delivery session and
   sampling) and their scripts open with no network.

   - Scripts (/site-assets/…) are cached when the worker installs, in a cache named by the
     worker's version — a digest of itself and of those scripts, written in by the server —
     so a changed script is a new worker, which replaces the old one and drops its cache.
   - A site page is asked of the network first; a page the network answered (200, HTML, not
     a redirect to sign-in) is kept, and served when there is no network.
   - Pages are kept for one person only: each names its person (X-InsuTrace-Person); a page
     of someone else first empties the cache of pages, and so does signing in or out.
   - Nothing else is cached: JSON answers (label verdicts, /v1/…), posts and every other
     page go to the network as if there were no worker. */
"use strict";
var VERSION = "__VERSION__";
var ASSETS = ["__ASSETS__"];
var SCRIPTS = "insutrace-scripts-" + VERSION;
var PAGES = "insutrace-pages";
var PERSON = "/__insutrace_person__";

self.addEventListener("install", function (event) {
  /* past the browser's HTTP cache: the scripts of this version, not an hour-old copy */
  var fresh = ASSETS.map(function (url) { return new Request(url, { cache: "reload" }); });
  event.waitUntil(caches.open(SCRIPTS).then(function (cache) { return cache.addAll(fresh); })
    .then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (n) { return n.indexOf("insutrace-scripts-") === 0 && n !== SCRIPTS; })
      .map(function (n) { return caches.delete(n); }));
  }).then(function () { return self.clients.claim(); }));
});

function sitePage(url) { return url.pathname === "/site" || url.pathname.indexOf("/site/") === 0; }

function forgetPages() { return caches.delete(PAGES); }

/* Keep ``response`` for ``request`` when it is one person's site page; a page of another
   person than the pages kept empties the cache first. */
async function keep(request, response) {
  var person = response.headers.get("X-InsuTrace-Person");
  var type = response.headers.get("Content-Type") || "";
  if (!person || response.status !== 200 || response.redirected || type.indexOf("text/html") !== 0) return;
  var cache = await caches.open(PAGES);
  var kept = await cache.match(PERSON);
  if (kept && (await kept.text()) !== person) {
    await forgetPages();
    cache = await caches.open(PAGES);
  }
  await cache.put(PERSON, new Response(person));
  await cache.put(request, response);
}

async function page(request) {
  try {
    var response = await fetch(request);
    await keep(request, response.clone());
    return response;
  } catch (e) {
    var cache = await caches.open(PAGES);
    var kept = await cache.match(request);
    if (kept) return kept;
    return new Response(
      "<!doctype html><meta charset=utf-8><meta name=viewport content='width=device-width'>" +
      "<title>离线 Offline</title><p>无网络，此页面尚未在本机保存；联网后再打开。</p>" +
      "<p>No network, and this page was not kept on this phone: open it again when online.</p>",
      { status: 503, headers: { "Content-Type": "text/html; charset=utf-8" } });
  }
}

async function script(request) {
  var cache = await caches.open(SCRIPTS);
  var kept = await cache.match(request, { ignoreSearch: true });
  return kept || fetch(request);
}

/* A page asks to be kept (its first visit, before this worker controlled it; or after a
   change the page made, e.g. a key enrolled): fetched anew and kept like a navigation. */
self.addEventListener("message", function (event) {
  var data = event.data || {};
  if (data.type !== "keep" || typeof data.url !== "string") return;
  var url = new URL(data.url, self.location.origin);
  if (url.origin !== self.location.origin || !sitePage(url)) return;
  var request = new Request(url.href, { credentials: "same-origin" });
  event.waitUntil(fetch(request).then(function (response) { return keep(request, response); })
    .then(function () { if (event.source) event.source.postMessage({ type: "kept", url: url.href }); })
    .catch(function () {}));
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname === "/signin" || url.pathname === "/signout") {
    event.waitUntil(forgetPages()); /* another person may sign in next */
    return;
  }
  if (request.method !== "GET") return;
  if (url.pathname.indexOf("/site-assets/") === 0 && ASSETS.indexOf(url.pathname) >= 0) {
    event.respondWith(script(request));
  } else if (sitePage(url) && request.mode === "navigate") {
    event.respondWith(page(request));
  }
});
