// hugai's dashboard: a rollout's page follows it live (Server-Sent Events), and every action is a
// call of the API, with the page's CSRF token, under the same policy as any other client.
"use strict";

function csrf() {
  return document.body.dataset.csrf || "";
}

function flash(text, bad) {
  const f = document.getElementById("flash");
  if (!f) return;
  f.textContent = text;
  f.className = bad ? "bad" : "ok";
}

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try { data = await res.json(); } catch (e) { /* not JSON */ }
  if (!res.ok) {
    throw new Error((data && data.message) || (res.status + " " + res.statusText));
  }
  return data;
}

// The part of a rollout's page that changes is drawn again by the server at each revision.
async function redraw(id) {
  const res = await fetch("/rollouts/" + encodeURIComponent(id) + "?fragment=live", { credentials: "same-origin" });
  if (!res.ok) return;
  const box = document.getElementById("rollout");
  box.innerHTML = await res.text();
  wireCommands(id);
}

function wireCommands(id) {
  document.querySelectorAll("form.command").forEach((form) => {
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const kind = form.dataset.kind;
      const comment = form.elements.comment ? form.elements.comment.value : "";
      const button = form.querySelector("button");
      button.disabled = true;
      try {
        const r = await api("POST", "/api/v1/rollouts/" + encodeURIComponent(id) + "/commands", { kind, comment });
        flash(kind + ": " + r.id + " is " + r.phase, false);
        await redraw(id);
      } catch (e) {
        flash(kind + " refused: " + e.message, true);
        button.disabled = false;
      }
    });
  });
}

function follow(id) {
  const es = new EventSource("/api/v1/rollouts/" + encodeURIComponent(id) + "/events");
  es.addEventListener("rollout", () => redraw(id));
  es.addEventListener("end", () => { es.close(); redraw(id); });
}

// The tokens page is the API's token routes, drawn in the page: the policy decides, not the page.
async function drawTokens() {
  const body = document.querySelector("#token-list tbody");
  body.textContent = "";
  let tokens = [];
  try { tokens = await api("GET", "/api/v1/tokens"); } catch (e) { flash(e.message, true); return; }
  for (const t of tokens || []) {
    const tr = document.createElement("tr");
    const state = t.revokedAt ? "revoked by " + t.revokedBy : (t.expiresAt && new Date(t.expiresAt) < new Date() ? "expired" : "valid");
    for (const v of [t.name, t.subject, t.role, t.environment || "all", t.createdBy, t.expiresAt || "never", state]) {
      const td = document.createElement("td");
      td.textContent = v;
      tr.appendChild(td);
    }
    const td = document.createElement("td");
    if (!t.revokedAt) {
      const b = document.createElement("button");
      b.className = "danger";
      b.textContent = "Revoke";
      b.dataset.token = t.name;
      b.addEventListener("click", async () => {
        try { await api("DELETE", "/api/v1/tokens/" + encodeURIComponent(t.name)); flash(t.name + " revoked", false); drawTokens(); }
        catch (e) { flash("revoke refused: " + e.message, true); }
      });
      td.appendChild(b);
    }
    tr.appendChild(td);
    body.appendChild(tr);
  }
}

function wireTokens() {
  const form = document.getElementById("new-token");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = form.elements;
    try {
      const t = await api("POST", "/api/v1/tokens", { name: f.name.value, role: f.role.value, environment: f.environment.value, expires: f.expires.value });
      const out = document.getElementById("secret");
      out.hidden = false;
      out.textContent = "The secret of " + t.name + ", shown this once: " + t.secret;
      form.reset();
      drawTokens();
    } catch (e) {
      flash("refused: " + e.message, true);
    }
  });
  drawTokens();
}

document.addEventListener("DOMContentLoaded", () => {
  if (document.getElementById("tokens-page")) wireTokens();
  const box = document.getElementById("rollout");
  if (box) {
    const id = box.dataset.id;
    wireCommands(id);
    if (box.dataset.terminal !== "true") follow(id);
  }
  const verify = document.getElementById("verify");
  if (verify) {
    verify.addEventListener("click", async () => {
      const out = document.getElementById("verified");
      try {
        const v = await api("GET", "/api/v1/audit/verify");
        out.textContent = v.ok ? "intact: " + v.events + " events, head " + v.head.slice(0, 12) : "BROKEN at event " + v.badSeq + ": " + v.error;
        out.className = v.ok ? "ok" : "bad";
      } catch (e) {
        out.textContent = e.message;
        out.className = "bad";
      }
    });
  }
});
