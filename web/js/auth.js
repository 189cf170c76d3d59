// The login dialog. Resolves with {username, role, scope} once the server accepts.

import { $ } from "./dom.js";
import { login } from "./api.js";
import { t } from "../i18n.js";

export function askLogin({ expired = false } = {}) {
  const dialog = $("#login");
  const form = $("#login-form");
  const error = $("#login-error");
  const submit = $("#login-submit");
  const showError = (message) => {
    error.textContent = message;
    error.hidden = !message;
  };
  showError(expired ? t("login.expired") : "");
  return new Promise((resolve) => {
    const onSubmit = async (event) => {
      event.preventDefault();
      submit.disabled = true;
      submit.textContent = t("login.busy");
      try {
        const user = await login($("#login-username").value.trim(), $("#login-password").value);
        form.removeEventListener("submit", onSubmit);
        dialog.close();
        $("#login-password").value = "";
        resolve(user);
      } catch (err) {
        showError(err.message);
      } finally {
        submit.disabled = false;
        submit.textContent = t("login.submit");
      }
    };
    form.addEventListener("submit", onSubmit);
    // Without a login there is nothing to show: Esc must not close the dialog.
    dialog.addEventListener("cancel", (event) => event.preventDefault());
    if (!dialog.open) dialog.showModal();
    $("#login-username").focus();
  });
}
