/* The site pages register the service worker (/sw.js), which keeps them and their scripts
   on this phone so they open with no network. ``InsuOffline.keep()`` asks the worker to keep
   this page as the server now renders it (done on every visit online: the first visit comes
   before the worker controls the page). */
"use strict";
window.InsuOffline = (function () {
  var ready = null;
  if ("serviceWorker" in navigator && window.isSecureContext) {
    ready = navigator.serviceWorker.register("/sw.js", { scope: "/" })
      .then(function () { return navigator.serviceWorker.ready; })
      .catch(function () { return null; });
  }
  function keep() {
    if (!ready || navigator.onLine === false) return Promise.resolve(false);
    return ready.then(function (registration) {
      if (!registration || !registration.active) return false;
      return new Promise(function (done) {
        var timer = setTimeout(function () { done(false); }, 10000);
        navigator.serviceWorker.addEventListener("message", function kept(event) {
          if (event.data && event.data.type === "kept" && event.data.url === location.href) {
            clearTimeout(timer);
            navigator.serviceWorker.removeEventListener("message", kept);
            document.documentElement.dataset.kept = "1";
            done(true);
          }
        });
        registration.active.postMessage({ type: "keep", url: location.href });
      });
    });
  }
  if (!navigator.serviceWorker || !navigator.serviceWorker.controller) keep();
  return { keep: keep };
})();
