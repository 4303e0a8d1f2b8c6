/* The site pages register the service worker (/sw.js), which keeps them and their scripts
   on this phone so they open with no network. */
"use strict";
if ("serviceWorker" in navigator && window.isSecureContext) {
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () {});
}
