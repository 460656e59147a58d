// Ticket page: choosing an answer template fills the answer box at once (without JavaScript
// the "Dùng mẫu" button reloads the page with ?template=ID and the server fills it).
// The officer edits the text before sending; a box already edited is not overwritten silently.
(function () {
  "use strict";
  var select = document.getElementById("answer-template");
  if (!select) { return; }
  var box = document.getElementById(select.getAttribute("data-target"));
  var use = document.getElementById("answer-template-use");
  if (!box) { return; }
  if (use) { use.hidden = true; }
  var filled = box.value;
  select.addEventListener("change", function () {
    var option = select.options[select.selectedIndex];
    var body = option ? option.getAttribute("data-body") : null;
    if (body === null) { return; }
    if (box.value.trim() && box.value !== filled &&
        !window.confirm("Thay nội dung đang soạn bằng mẫu đã chọn?")) {
      return;
    }
    box.value = body;
    filled = body;
    box.focus();
  });
}());
