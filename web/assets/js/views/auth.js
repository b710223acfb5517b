// Sign in and sign up.

import { describe, signIn, signUp } from "../api.js";
import { h, replace } from "../dom.js";
import { go } from "../router.js";

function field(label, input) {
  return h("label", { class: "field" }, h("span", {}, label), input);
}

function form({ main, heading, submitLabel, fields, onSubmit, footer }) {
  const error = h("p", { class: "form-error", role: "alert" });
  const button = h("button", { type: "submit", class: "btn btn-primary" }, submitLabel);
  const el = h(
    "form",
    { class: "auth-form", "aria-labelledby": "auth-heading", novalidate: false },
    h("h1", { id: "auth-heading" }, heading),
    fields,
    error,
    button,
    footer,
  );
  el.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    button.disabled = true;
    try {
      await onSubmit(new FormData(el));
      go("/profiles");
    } catch (err) {
      error.textContent = describe(err);
      button.disabled = false;
    }
  });
  replace(main, h("section", { class: "auth" }, el));
  el.querySelector("input")?.focus();
}

export function signInView({ main }) {
  form({
    main,
    heading: "Sign in",
    submitLabel: "Sign in",
    fields: [
      field("Email", h("input", { name: "email", type: "email", autocomplete: "username", required: true })),
      field(
        "Password",
        h("input", { name: "password", type: "password", autocomplete: "current-password", required: true }),
      ),
    ],
    onSubmit: (data) => signIn(data.get("email"), data.get("password")),
    footer: h("p", { class: "muted" }, "New to Matinee? ", h("a", { href: "#/signup" }, "Create an account")),
  });
}

export function signUpView({ main }) {
  const plan = h(
    "select",
    { name: "plan" },
    h("option", { value: "basic" }, "Basic: 1 screen, 720p"),
    h("option", { value: "standard", selected: true }, "Standard: 2 screens, 1080p"),
    h("option", { value: "premium" }, "Premium: 4 screens, 4K"),
  );
  form({
    main,
    heading: "Create your account",
    submitLabel: "Sign up",
    fields: [
      field("Email", h("input", { name: "email", type: "email", autocomplete: "username", required: true })),
      field(
        "Password (at least 8 characters)",
        h("input", {
          name: "password",
          type: "password",
          autocomplete: "new-password",
          minLength: 8,
          required: true,
        }),
      ),
      field("Plan", plan),
    ],
    onSubmit: (data) => signUp(data.get("email"), data.get("password"), data.get("plan")),
    footer: h("p", { class: "muted" }, "Already have an account? ", h("a", { href: "#/login" }, "Sign in")),
  });
}
