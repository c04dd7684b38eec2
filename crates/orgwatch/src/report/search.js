(function () {
  var input = document.getElementById("account-search");
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr.account-row"));
  var count = document.getElementById("account-count");
  input.hidden = false;
  input.addEventListener("input", function () {
    var q = input.value.trim().toLowerCase();
    var shown = 0;
    rows.forEach(function (row) {
      var match = q === "" || row.getAttribute("data-search").indexOf(q) !== -1;
      row.hidden = !match;
      if (match) { shown += 1; }
    });
    count.textContent = shown + " of " + rows.length + " accounts.";
  });
})();
