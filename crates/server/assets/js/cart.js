// Proofsheet web app: the cart: what it shows becomes the gallery's selection.
// Loaded by the markup it serves; uses window.Proofsheet (common.js).
(function () {
  "use strict";
  var P = window.Proofsheet, signedIn = P.signedIn;

  // ---- The cart: what it shows is the selection; paying empties it ----
  var cartState = document.getElementById("cart-state");
  if (cartState) {
    var cartKey = "ps-selection:" + cartState.getAttribute("data-album");
    var inCart = (cartState.getAttribute("data-photos") || "").split(" ").filter(Boolean);
    try { localStorage.setItem(cartKey, JSON.stringify(inCart)); } catch (e) { /* private mode */ }
    var pay = document.querySelector('form[action$="/checkout"]');
    if (pay && signedIn) pay.addEventListener("submit", function () { try { localStorage.removeItem(cartKey); } catch (e) { /* none */ } });
  }
})();
