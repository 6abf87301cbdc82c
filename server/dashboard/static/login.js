// The login page: post the pasted key; the server answers with an HttpOnly cookie.
(() => {
  "use strict";
  const T = window.TenazI18n;
  T.bindToggle();

  const form = document.getElementById("login-form");
  const input = document.getElementById("api-key");
  const error = document.getElementById("login-error");

  function showError(message) {
    error.textContent = message;
    error.hidden = false;
    input.setAttribute("aria-invalid", "true");
    input.focus();
  }

  form.addEventListener("submit", async (submitted) => {
    submitted.preventDefault();
    error.hidden = true;
    input.removeAttribute("aria-invalid");
    const key = input.value.trim();
    if (!key) {
      showError(T.t("loginFailed"));
      return;
    }
    let response;
    try {
      response = await fetch("/api/session", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ api_key: key }),
      });
    } catch (failure) {
      showError(T.t("error", { message: failure.message }));
      return;
    }
    if (response.ok) {
      input.value = "";
      window.location.assign("/");
    } else if (response.status === 400 || response.status === 401) {
      showError(T.t("loginFailed"));
    } else {
      const body = await response.json().catch(() => ({}));
      showError(T.t("error", { message: body.error?.message ?? response.statusText }));
    }
  });
})();
