// The Now page's board, fetched again every few seconds and swapped in place: no reload,
// no flicker, the scroll kept. With JavaScript off, the page's <noscript> refresh does it.
(function () {
  "use strict";
  var board = document.getElementById("board");
  if (!board || !window.fetch) { return; }
  var every = 1000 * Number(board.getAttribute("data-refresh-s") || 15);
  var url = board.getAttribute("data-board-url");
  function again() {
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (answer) {
        if (answer.redirected) { window.location.reload(); return null; }  // logged out
        return answer.ok ? answer.text() : null;
      })
      .then(function (html) { if (html !== null) { board.innerHTML = html; } })
      .catch(function () { /* the next round tries again */ })
      .then(function () { window.setTimeout(again, every); });
  }
  window.setTimeout(again, every);
}());
