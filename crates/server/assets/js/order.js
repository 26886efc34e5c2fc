// Proofsheet web app: an order's page: follows the status until it settles.
// Loaded by the markup it serves; uses window.Proofsheet (common.js).
(function () {
  "use strict";
  var P = window.Proofsheet, api = P.api;

  // ---- Order page: follow the status until it settles ----
  var order = document.getElementById("order");
  if (order && /^(pending|paid)$/.test(order.getAttribute("data-status"))) {
    var was = order.getAttribute("data-status");
    var tries = 0;
    var check = function () {
      api("GET", "/api/v1/orders/" + order.getAttribute("data-order")).then(function (r) { return r.json(); }).then(function (o) {
        if (o.status !== was) window.location.reload();
        else if (++tries < 150) setTimeout(check, 2000);
      }, function () { if (++tries < 150) setTimeout(check, 4000); });
    };
    setTimeout(check, 1500);
  }
})();
