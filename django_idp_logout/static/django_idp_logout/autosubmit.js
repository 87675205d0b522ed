// Submits the end-session form of logout_post.html (no inline script: strict CSPs allow it).
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("idp-logout-form");
  if (form) { form.submit(); }
});
